"""OpenLineage run events: START then COMPLETE with datasets, schema, row counts and
residency, or FAIL with the error; one run id throughout."""

from __future__ import annotations

import json
from pathlib import Path

from governance import lineage_names
from governance.openlineage import (
    FACET_SCHEMAS,
    PRODUCER,
    ColumnFrom,
    DatasetRef,
    LineageEmitter,
    ParentRef,
    TraceDatasetFacet,
)
from tests.fixtures.openlineage_schema import problems


def test_a_run_writes_start_and_complete_with_facets(tmp_path: Path) -> None:
    path = tmp_path / "lineage" / "openlineage.jsonl"
    emitter = LineageEmitter(path)
    emitter.start("aifactory.run", "run-1")
    emitter.complete("aifactory.run", "run-1",
                     inputs=[DatasetRef("file", "/data/helio-eu")],
                     outputs=[DatasetRef("aifactory-lake", "raw/region=eu-central", [("event_id", "string")],
                                         rows=46, region="eu-central", jurisdictions=["EU"])],
                     summary={"published": 46})
    emitter.fail("aifactory.run", "run-2", RuntimeError("broker unreachable"))
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE", "FAIL"]
    assert events[0]["run"]["runId"] == events[1]["run"]["runId"] != events[2]["run"]["runId"]
    out = events[1]["outputs"][0]
    assert [(f["name"], f["type"]) for f in out["facets"]["schema"]["fields"]] == [("event_id", "string")]
    assert out["facets"]["residency"]["region"] == "eu-central"
    assert out["outputFacets"]["outputStatistics"]["rowCount"] == 46
    assert events[1]["run"]["facets"]["aifactory"]["run_id"] == "run-1"
    assert "broker unreachable" in events[2]["run"]["facets"]["errorMessage"]["message"]


def test_every_event_meets_the_spec_and_custom_facets_their_own_schemas(tmp_path: Path) -> None:
    path = tmp_path / "openlineage.jsonl"
    emitter = LineageEmitter(path)
    step = ParentRef("dagster", "__ASSET_JOB.raw_lake", "8c3a1f0e-5d2b-5e0c-9f1a-2b3c4d5e6f70",
                     root_job="__ASSET_JOB", root_run_id="0f6b1c9e-4b7d-4f57-8a1d-1e2f3a4b5c6d")
    emitter.start("aifactory.ingest", "run-1", parent=step)
    emitter.complete("aifactory.ingest", "run-1", parent=step, summary={"raw_landed": 2},
                     inputs=[DatasetRef("kafka://broker-1:9092", "aifactory.raw-documents"),
                             DatasetRef("file://host-a", "/srv/home/index/chunks__eu__m",
                                        trace=TraceDatasetFacet(points=1, positions=[{
                                            "topic": "aifactory.raw-documents", "partition": 0, "offset": 7,
                                            "epoch": "e1", "point_ids": ["p-1"]}]))],
                     outputs=[DatasetRef("file://host-a", "/srv/home/lake/chunks", [("text", "string")], rows=2,
                                         region="eu-central", jurisdictions=["EU"], columns={
                                             "text": ColumnFrom([("file://host-a", "/srv/home/lake/raw", "text")],
                                                                "TRANSFORMATION", "split into chunks")})])
    emitter.fail("aifactory.ingest", "run-2", RuntimeError("broker unreachable"), parent=step)
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert [problems(e) for e in events] == [[], [], []]
    done = events[1]
    parent = done["run"]["facets"]["parent"]["job"]
    assert (parent["namespace"], parent["name"]) == ("dagster", "__ASSET_JOB.raw_lake")
    assert done["run"]["facets"]["parent"]["root"]["run"]["runId"] == "0f6b1c9e-4b7d-4f57-8a1d-1e2f3a4b5c6d"
    assert done["run"]["facets"]["aifactory"]["_schemaURL"].startswith(FACET_SCHEMAS)
    assert done["run"]["facets"]["aifactory"]["_producer"] == PRODUCER
    column = done["outputs"][0]["facets"]["columnLineage"]["fields"]["text"]["inputFields"][0]
    assert (column["name"], column["field"]) == ("/srv/home/lake/raw", "text")
    assert done["inputs"][1]["facets"]["aifactory_trace"]["positions"][0]["point_ids"] == ["p-1"]


def test_the_checker_refuses_what_a_lineage_server_would() -> None:
    """The schema check is not a rubber stamp: each of these breaks the spec or a facet's schema."""
    good = {"eventType": "COMPLETE", "eventTime": "2026-12-06T10:00:00+00:00", "producer": PRODUCER,
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": "0f6b1c9e-4b7d-4f57-8a1d-1e2f3a4b5c6d"}, "job": {"namespace": "aifactory", "name": "j"}}
    assert problems(good) == []
    facet = {"_producer": PRODUCER, "_schemaURL": f"{FACET_SCHEMAS}AifactoryRunFacet.json#/$defs/AifactoryRunFacet"}
    bad = [
        {**good, "run": {"runId": "run-1"}},  # not a UUID
        {**good, "eventType": "DONE"},
        {**good, "eventTime": "yesterday"},
        {**good, "job": {"namespace": "aifactory"}},
        {**good, "run": {**good["run"], "facets": {"aifactory": {**facet}}}},  # run_id is required
        {**good, "run": {**good["run"], "facets": {"aifactory": {
            **facet, "run_id": "r", "_schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunFacet"}}}},
        {**good, "run": {**good["run"], "facets": {"parent": {**facet, "run": {"runId": "x"},
                                                                 "job": {"namespace": "d", "name": "n"}}}}},
    ]
    assert all(problems(b) for b in bad), [b for b in bad if not problems(b)]


def test_dataset_names_follow_the_naming_spec(tmp_path: Path) -> None:
    me = lineage_names.host()
    assert lineage_names.file_dataset(tmp_path / "lake" / "raw") == (f"file://{me}", str(tmp_path / "lake" / "raw"))
    lake = (tmp_path / "lake").as_uri()
    assert lineage_names.url_dataset(f"{lake}/raw") == (f"file://{me}", str(tmp_path / "lake" / "raw"))
    assert lineage_names.url_dataset("s3://lake-eu/prod/raw") == ("s3://lake-eu", "prod/raw")
    assert lineage_names.kafka_namespace("Broker-1:9092,broker-2:9092", tmp_path) == "kafka://broker-1:9092"
    assert lineage_names.kafka_namespace("SASL_SSL://broker-1:9093", tmp_path) == "kafka://broker-1:9093"
    assert lineage_names.qdrant_namespace("https://qdrant.eu.example:6333/") == "https://qdrant.eu.example:6333"
    # The embedded broker: stable per data directory, different for two homes on one host.
    one, two = (lineage_names.kafka_namespace("", tmp_path / h) for h in ("a", "b"))
    assert one == lineage_names.kafka_namespace("", tmp_path / "a") != two
    assert one.startswith("kafka://") and one.endswith(f".embedded.{me}")
