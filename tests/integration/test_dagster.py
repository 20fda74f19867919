"""The Dagster asset graph materialises in-process over real parts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest
import yaml

from aifactory.settings import PROJECT_ROOT
from assets.definitions import chunks_lake, defs, raw_documents, raw_lake, residency_compliance, vector_index
from assets.resources import EmbedderResource, KafkaResource, LakeResource
from ingest.broker import EmbeddedBroker
from ingest.lake import Lake
from ingest.tables import RAW
from vectorstore.embedder import Embedder

pytestmark = pytest.mark.integration


def test_definitions_load_with_the_expected_graph() -> None:
    graph = defs().resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == {"kafka/raw_documents", "raw_lake", "chunks_lake", "vector_index"}
    deps = {k.to_user_string(): sorted(p.to_user_string() for p in graph.get(k).parent_keys)
            for k in graph.get_all_asset_keys()}
    assert deps == {"kafka/raw_documents": [], "raw_lake": ["kafka/raw_documents"],
                    "chunks_lake": ["raw_lake"], "vector_index": ["chunks_lake"]}


def test_whole_graph_materialises_in_process(tmp_path: Path, broker: EmbeddedBroker, embedder: Embedder) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(PROJECT_ROOT / "examples" / "corpus" / "helio-us" / "hr", corpus)
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": [{"path": "corpus", "tenant": "helio-us", "jurisdiction": "US"}]}))
    resources = {
        "lake": LakeResource(home=str(tmp_path / "home")),
        "kafka": KafkaResource(bootstrap_servers=broker.bootstrap_servers, topic_prefix="dagster-test"),
        "embedder": EmbedderResource(),
    }
    result = dg.materialize(
        [raw_documents, raw_lake, chunks_lake, vector_index, residency_compliance], resources=resources,
        run_config={"ops": {"raw_lake": {"config": {"sources_file": str(sources)}}}},
    )
    assert result.success
    assert [c.passed for c in result.get_asset_check_evaluations()] == [True]
    meta = {e.materialization.asset_key.to_user_string(): e.materialization.metadata
            for e in result.get_asset_materialization_events()}
    assert meta["raw_lake"]["published"].value == meta["raw_lake"]["raw_landed"].value == 6
    assert meta["chunks_lake"]["current_chunks"].value > 6
    assert meta["vector_index"]["points_total"].value == (meta["chunks_lake"]["current_chunks"].value
                                                          - meta["vector_index"]["duplicates_folded"].value)
    assert meta["vector_index"]["model"].value == embedder.fingerprint.id

    again = dg.materialize([raw_documents, raw_lake, chunks_lake, vector_index], resources=resources,
                           run_config={"ops": {"raw_lake": {"config": {"sources_file": str(sources)}}}})
    second = {e.materialization.asset_key.to_user_string(): e.materialization.metadata
              for e in again.get_asset_materialization_events()}
    assert second["raw_lake"]["published"].value == 0
    assert second["vector_index"]["points_upserted"].value == 0

    # A record written past the guard (another tool on the same lake) into the wrong region.
    row = pq.read_table(next((tmp_path / "home" / "lake" / "raw").rglob("*.parquet"))).slice(0, 1).to_pylist()[0]
    Lake(tmp_path / "home" / "lake").write(RAW, [{**row, "event_id": "planted", "region": "eu-central"}])
    planted = dg.materialize([vector_index, residency_compliance], resources=resources,
                             selection=dg.AssetSelection.checks(residency_compliance))
    check = planted.get_asset_check_evaluations()[0]
    assert not check.passed and "1 US record(s) of helio-us in raw lake at eu-central" in check.description


def test_workspace_yaml_loads_for_dagster_dev() -> None:
    proc = subprocess.run(["dagster", "definitions", "validate", "-w", "workspace.yaml"], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "All code locations passed validation" in proc.stdout + proc.stderr
