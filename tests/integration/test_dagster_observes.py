"""Dagster sees what was written outside it: runs through the stage floor (as `aifactory
run` makes them) against the session broker and the real model, then the
outside-writes sensor ticked as the daemon would. Each outside run is reported once, with
its run id and counts, on the assets it wrote; a run Dagster launched is not reported
again; and once the events are in the instance, the catalog has a materialisation."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml

from assets.definitions import ASSETS
from assets.maintenance import compacted_lake_partition, tenant_usage_daily
from assets.observe import outside_writes_sensor
from assets.resources import FactoryResource, run_resources
from ingest.broker import EmbeddedBroker
from ingest.sources import Source
from pipeline import runner
from pipeline.settings import PROJECT_ROOT
from tests.conftest import MakeFactory

pytestmark = pytest.mark.integration

HR = PROJECT_ROOT / "examples" / "corpus" / "helio-us" / "hr"
UNPARTITIONED = [a for a in ASSETS if a not in (compacted_lake_partition, tenant_usage_daily)]
LAKE_AND_INDEX = ("raw_lake", "chunks_lake", "vector_index")


def _materialisations(result: dg.SensorResult) -> dict[str, dg.AssetMaterialization]:
    out = {e.asset_key.to_user_string(): e for e in result.asset_events if isinstance(e, dg.AssetMaterialization)}
    assert len(out) == len([e for e in result.asset_events if isinstance(e, dg.AssetMaterialization)])
    return out


def test_outside_runs_reach_the_catalog_once(tmp_path: Path, make_factory: MakeFactory, broker: EmbeddedBroker,
                                             dagster_instance: dg.DagsterInstance) -> None:
    instance = dagster_instance
    home, folder = tmp_path / "home", tmp_path / "hr"
    shutil.copytree(HR, folder)
    factory = make_factory(home)
    sensor_resources = {"factory": FactoryResource(home=str(home))}

    def tick(cursor: str | None) -> dg.SensorResult:
        with dg.build_sensor_context(instance=instance, cursor=cursor, resources=sensor_resources) as context:
            result = outside_writes_sensor(context)
        assert isinstance(result, dg.SensorResult)
        return result

    source = Source(folder, "helio-us", "US")
    first = runner.run(factory, [source])
    assert first.index is not None and first.raw_landed and first.chunks_landed

    seen = tick(None)
    events = _materialisations(seen)
    assert set(LAKE_AND_INDEX) <= set(events)
    assert ("dead_letters_lake" in events) == bool(first.dead_letters_landed)
    for event in events.values():
        assert event.metadata["run_id"] == dg.MetadataValue.text(first.run_id)
        assert event.tags["aifactory/written_by"] == "outside-dagster"
        assert "outside Dagster" in (event.description or "")
    assert events["raw_lake"].metadata["raw_landed"] == dg.MetadataValue.int(first.raw_landed)
    assert events["chunks_lake"].metadata["chunks_landed"] == dg.MetadataValue.int(first.chunks_landed)
    assert events["vector_index"].metadata["points_upserted"] == dg.MetadataValue.int(first.index.upserted)

    for key in LAKE_AND_INDEX:  # "Never materialized" until the sensor's events are in
        assert instance.get_latest_materialization_event(dg.AssetKey(key)) is None
    for event in seen.asset_events:
        instance.report_runless_asset_event(event)
    for key in LAKE_AND_INDEX:
        latest = instance.get_latest_materialization_event(dg.AssetKey(key))
        assert latest is not None and latest.asset_materialization is not None
        assert latest.asset_materialization.metadata["run_id"] == dg.MetadataValue.text(first.run_id)

    quiet = tick(seen.cursor)
    assert not quiet.asset_events and "nothing new" in str(quiet.skip_reason)

    (folder / "sabbatical.md").write_text("# Sabbatical\n\nAfter five years, staff may take a paid sabbatical "
                                          "of four weeks, agreed with their manager a quarter ahead.\n")
    second = runner.run(factory, [source])
    assert second.raw_landed == 1
    after = tick(quiet.cursor)
    events = _materialisations(after)
    assert set(LAKE_AND_INDEX) <= set(events)
    assert {e.metadata["run_id"].value for e in events.values()} == {second.run_id}
    assert events["raw_lake"].metadata["raw_landed"] == dg.MetadataValue.int(1)
    factory.close()  # the Dagster run opens the index in this process next

    (folder / "gym.md").write_text("# Gym allowance\n\nEach employee may claim up to 40 USD a month for a gym "
                                   "membership, with the receipt.\n")
    sources_file = tmp_path / "sources.yaml"
    sources_file.write_text(yaml.safe_dump(
        {"sources": [{"path": str(folder), "tenant": "helio-us", "jurisdiction": "US"}]}))
    launched = dg.materialize(UNPARTITIONED, instance=instance, resources=run_resources(
        home=str(home), bootstrap_servers=broker.bootstrap_servers, topic_prefix=factory.settings.kafka.topic_prefix),
        run_config={"ops": {"raw_lake": {"config": {"sources_file": str(sources_file)}}}})
    assert launched.success
    dagster_run = launched.asset_materializations_for_node("raw_lake")[0]
    assert dagster_run.metadata["raw_landed"] == dg.MetadataValue.int(1)

    after_dagster = tick(after.cursor)
    assert _materialisations(after_dagster) == {}  # Dagster's own run materialised its assets already
    for event in after_dagster.asset_events:  # the lake files it changed are only observed
        assert isinstance(event, dg.AssetObservation)
        instance.report_runless_asset_event(event)
    latest = instance.get_latest_materialization_event(dg.AssetKey("raw_lake"))
    assert latest is not None and latest.run_id == launched.run_id
    assert not tick(after_dagster.cursor).asset_events
