"""OpenLineage run events: START then COMPLETE with datasets, schema, row counts and
residency, or FAIL with the error; one run id throughout."""

from __future__ import annotations

import json
from pathlib import Path

from governance.openlineage import DatasetRef, LineageEmitter


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
