"""Record-level lineage: for every document of the sample corpus, from the document
to its points and from each point back to the same document and source."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aifactory.lineage_html import render
from governance import lineage_names
from governance.openlineage import LineageEmitter
from ingest.parsers import PARSER_VERSION
from ingest.tables import RAW
from pipeline import runlineage
from pipeline.lineage import trace
from tests.fixtures.openlineage_schema import problems
from tests.integration.conftest import ApiWorld
from transforms.tables import CHUNKS

pytestmark = pytest.mark.integration


def test_every_sample_document_round_trips_through_its_points(api_world: ApiWorld) -> None:
    factory = api_world.factory
    checked = 0
    for tenant in ("helio-eu", "helio-us"):
        for doc in api_world.documents[tenant]:
            forward = trace(factory, tenant, doc)
            assert forward is not None and forward["kind"] == "document"
            latest = forward["versions"][-1]
            assert latest["log_topic"] and latest["log_offset"] is not None
            assert latest["lake_file"].startswith("raw/region=") and latest["lake_row"] >= 0
            # The versions that made it, and the run that published it.
            assert latest["parser"] == PARSER_VERSION and latest["privacy"] == factory.privacy.fingerprint
            assert latest["run_id"].startswith("run-")
            points = [c["point"] for c in forward["chunks"] if c["point"]]
            # Duplicates fold into another chunk's point; every other chunk has its own.
            assert points or latest["op"] == "delete", doc
            for p in points:
                back = trace(factory, tenant, p["point_id"])
                assert back is not None and back["kind"] == "point"
                assert back["document_id"] == doc and back["source_uri"] == forward["source_uri"]
                assert back["event"]["event_id"] == latest["event_id"]
                assert back["chunk"]["lake_file"].startswith("chunks/region=")
                assert back["model"] == factory.index.model_id and back["chunker"] == back["chunk"]["chunker"]
                assert back["run_id"] == latest["run_id"] == p["run_id"]
                checked += 1
    assert checked >= 46


def test_lineage_is_tenant_scoped_and_renders_as_a_page(api_world: ApiWorld) -> None:
    doc = api_world.documents["helio-eu"][0]
    assert trace(api_world.factory, "helio-us", doc) is None
    page = render(trace(api_world.factory, "helio-eu", doc) or {})
    assert page.startswith("<!doctype html>") and "<svg" in page and "<script" not in page
    assert doc in page


def test_each_run_is_an_openlineage_start_and_complete_with_residency(api_world: ApiWorld) -> None:
    factory = api_world.factory
    events = [json.loads(line) for line in
              (factory.settings.home / "lineage" / "openlineage.jsonl").read_text().splitlines()]
    runs: dict[str, list[dict[str, Any]]] = {e["run"]["runId"]: [] for e in events}
    for e in events:
        runs[e["run"]["runId"]].append(e)
    # The sample corpus went in with one run: its run id is on every raw row.
    traced = trace(factory, "helio-eu", api_world.documents["helio-eu"][0])
    assert traced is not None
    run_id = traced["versions"][-1]["run_id"]
    mine = runs[LineageEmitter.run_uuid(run_id)]
    assert [e["eventType"] for e in mine] == ["START", "COMPLETE"]
    done = mine[1]
    assert done["job"]["name"] == "aifactory.run" and done["run"]["facets"]["aifactory"]["run_id"] == run_id
    assert {i["namespace"] for i in done["inputs"]} >= {f"file://{lineage_names.host()}"}
    assert [problems(e) for e in mine] == [[], []]
    outputs = {o["name"]: o for o in done["outputs"]}
    raw = outputs[runlineage.table(factory, RAW).name]
    assert raw["name"] == str(factory.settings.lake_root / "raw")
    assert raw["outputFacets"]["outputStatistics"]["rowCount"] == done["run"]["facets"]["aifactory"]["summary"][
        "raw_landed"] > 0
    assert {f["name"] for f in raw["facets"]["schema"]["fields"]} >= {"event_id", "run_id", "parser"}
    assert set(raw["facets"]["residency"]["jurisdictions"]) == {"EU", "US"}
    collections = [o for name, o in outputs.items() if name.startswith(str(factory.settings.index_root / "chunks__"))]
    chunks = outputs[runlineage.table(factory, CHUNKS).name]["facets"]["columnLineage"]["fields"]
    assert chunks["text"]["inputFields"][0]["name"] == raw["name"]
    from_topic = raw["facets"]["columnLineage"]["fields"]["text"]["inputFields"][0]
    assert (from_topic["name"], from_topic["field"]) == (factory.settings.kafka.raw_topic, "text")
    assert collections[0]["facets"]["columnLineage"]["fields"]["vector"]["inputFields"][0]["field"] == "text"
    assert {o["facets"]["residency"]["region"] for o in collections} == {"eu-central", "us-east"}
    for o in collections:
        want = {"eu-central": ["EU"], "us-east": ["US"]}[o["facets"]["residency"]["region"]]
        assert o["facets"]["residency"]["jurisdictions"] == want
