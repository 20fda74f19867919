"""The outside-writes sensor over a data directory with no services: a fresh install
(no home yet) reports nothing and says why; a lineage file read back reports each
outside run once, skips Dagster's own, and leaves a half-written line for the next tick."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from assets.observe import outside_writes_sensor
from assets.resources import FactoryResource
from governance.openlineage import DatasetRef, LineageEmitter, ParentRef
from pipeline.runlineage import lineage_file


def _tick(home: Path, instance: dg.DagsterInstance, cursor: str | None = None) -> dg.SensorResult | dg.SkipReason:
    with dg.build_sensor_context(instance=instance, cursor=cursor,
                                 resources={"factory": FactoryResource(home=str(home))}) as context:
        result = outside_writes_sensor(context)
    assert isinstance(result, dg.SensorResult | dg.SkipReason)
    return result


def _complete(home: Path, job: str, run_id: str, parent: ParentRef | None = None, **summary: int) -> None:
    raw = DatasetRef("file://lake", "raw", rows=summary.get("raw_landed"))
    LineageEmitter(lineage_file(home)).complete(job, run_id, inputs=[], outputs=[raw], parent=parent,
                                                summary={"run_id": run_id, **summary})


def test_a_home_that_does_not_exist_yet_reports_nothing_and_says_so(tmp_path: Path,
                                                                  dagster_instance: dg.DagsterInstance) -> None:
    home = tmp_path / "never-ran"
    result = _tick(home, dagster_instance, cursor='{"lineage_offset": 42}')
    assert isinstance(result, dg.SkipReason)
    assert "does not exist yet" in (result.skip_message or "") and str(home) in (result.skip_message or "")
    assert not home.exists()  # looking created nothing


def test_each_outside_run_is_reported_once_and_dagster_runs_never(tmp_path: Path,
                                                                 dagster_instance: dg.DagsterInstance) -> None:
    home = tmp_path / "home"
    home.mkdir()
    _complete(home, "aifactory.run", "run-a", raw_landed=3, chunks_landed=7, points_upserted=7, published=3)
    _complete(home, "dagster.factory", "0f1e2d3c", points=7)  # what an older Dagster run wrote
    step = ParentRef("dagster", "__ASSET_JOB.raw_lake", "8c3a1f0e-5d2b-5e0c-9f1a-2b3c4d5e6f70")
    _complete(home, "aifactory.ingest", "0f1e2d3c", parent=step, raw_landed=5, published=5)  # a Dagster step's
    _complete(home, "aifactory.run", "run-idle")  # a run that wrote nothing materialises nothing
    with lineage_file(home).open("a") as fh:
        fh.write('{"eventType": "COMPLETE", "run"')  # still being written

    first = _tick(home, dagster_instance)
    assert isinstance(first, dg.SensorResult) and first.skip_reason is None
    events = {e.asset_key.to_user_string(): e for e in first.asset_events}
    assert set(events) == {"raw_lake", "chunks_lake", "vector_index"}
    assert all(isinstance(e, dg.AssetMaterialization) for e in events.values())
    assert events["raw_lake"].metadata["run_id"] == dg.MetadataValue.text("run-a")
    assert events["raw_lake"].metadata["raw_landed"] == dg.MetadataValue.int(3)
    assert events["vector_index"].metadata["points_upserted"] == dg.MetadataValue.int(7)
    assert events["chunks_lake"].tags == {"aifactory/written_by": "outside-dagster", "aifactory/run_id": "run-a"}

    again = _tick(home, dagster_instance, cursor=first.cursor)
    assert isinstance(again, dg.SensorResult) and not again.asset_events
    assert "nothing new" in str(again.skip_reason)

    with lineage_file(home).open("a") as fh:  # the half line was a torn write; a whole event follows
        fh.write("\n")
    _complete(home, "aifactory.replay", "run-b", chunks_landed=2)
    later = _tick(home, dagster_instance, cursor=again.cursor)
    assert isinstance(later, dg.SensorResult)
    assert [(e.asset_key.to_user_string(), e.metadata["run_id"].value) for e in later.asset_events] == [
        ("chunks_lake", "run-b")]
    assert later.asset_events[0].metadata["command"] == dg.MetadataValue.text("aifactory replay")


def test_lake_files_changed_without_a_run_are_observed(tmp_path: Path, dagster_instance: dg.DagsterInstance) -> None:
    """`aifactory ingest` and `erase` leave no lineage event; the lake's files still tell."""
    home = tmp_path / "home"
    table = home / "lake" / "raw" / "region=us" / "tenant=t" / "date=2026-01-01"
    table.mkdir(parents=True)
    pq.write_table(pa.table({"event_id": ["e1"]}), table / "part.parquet")
    (table / ".part.parquet.1-ab.tmp").write_bytes(b"half")  # a writer's temp file is not the table yet

    first = _tick(home, dagster_instance)
    assert isinstance(first, dg.SensorResult)
    [event] = first.asset_events
    assert isinstance(event, dg.AssetObservation) and event.asset_key == dg.AssetKey("raw_lake")
    assert event.metadata["files"] == dg.MetadataValue.int(1)
    again = _tick(home, dagster_instance, cursor=first.cursor)
    assert isinstance(again, dg.SensorResult) and not again.asset_events
