"""The Dagster asset graph materialises in-process over real parts (the session broker,
the real model, Qdrant Edge), and every asset check passes on good data and fails on
planted bad data; an ERROR check stops the assets downstream of it in the same run,
raw_freshness runs on its own schedule, and the job the README says to press is the
unpartitioned pipeline."""

from __future__ import annotations

import gc
import json
import shutil
import subprocess
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from assets import checks
from assets.definitions import ASSETS, CHECKS, defs
from assets.maintenance import compacted_lake_partition, ingest_job, tenant_usage_daily
from assets.resources import run_resources
from assets.stages import chunks_lake, dead_letters_lake, lineage_store, raw_lake, usage_ledger, vector_index
from governance import lineage_names
from ingest.broker import EmbeddedBroker
from ingest.lake import Lake
from ingest.settings import KafkaSettings
from ingest.sources import Source
from ingest.tables import RAW
from pipeline import runner
from pipeline.compaction import compact_folder
from pipeline.factory import Factory
from pipeline.settings import PROJECT_ROOT, FactorySettings
from tests.fixtures.openlineage_schema import problems
from transforms.tables import CHUNKS
from vectorstore.embedder import Embedder

pytestmark = pytest.mark.integration

CORPUS = PROJECT_ROOT / "examples" / "corpus"
UNPARTITIONED = [a for a in ASSETS if a not in (compacted_lake_partition, tenant_usage_daily)]


@dataclass
class World:
    home: Path
    sources: Path
    resources: dict[str, Any]
    result: dg.ExecuteInProcessResult

    def meta(self, result: dg.ExecuteInProcessResult | None = None) -> dict[str, Any]:
        return {e.materialization.asset_key.to_user_string(): e.materialization.metadata
                for e in (result or self.result).get_asset_materialization_events()}


def _resources(home: Path, broker: EmbeddedBroker, prefix: str) -> dict[str, Any]:
    return run_resources(home=str(home), bootstrap_servers=broker.bootstrap_servers, topic_prefix=prefix)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, broker: EmbeddedBroker, embedder: Embedder) -> World:
    """Two small tenants in two regions, materialised once with every check."""
    tmp = tmp_path_factory.mktemp("dagster")
    shutil.copytree(CORPUS / "helio-us" / "hr", tmp / "us")
    shutil.copytree(CORPUS / "helio-eu" / "hr", tmp / "eu")
    sources = tmp / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": [{"path": "us", "tenant": "helio-us", "jurisdiction": "US"},
                                                   {"path": "eu", "tenant": "helio-eu", "jurisdiction": "EU"}]}))
    resources = _resources(tmp / "home", broker, "dagster-test")
    result = dg.materialize([*UNPARTITIONED, *CHECKS], resources=resources,
                            run_config={"ops": {"raw_lake": {"config": {"sources_file": str(sources)}}}})
    assert result.success
    return World(tmp / "home", sources, resources, result)


def planted(world: World, tmp_path: Path) -> Path:
    """A copy of the world's data directory to plant bad data in."""
    home = tmp_path / "home"
    shutil.copytree(world.home, home)
    return home


def offline(home: Path) -> dict[str, Any]:
    """Resources for steps that read the data directory only (nothing connects or loads)."""
    return run_resources(home=str(home))


def elsewhere(world: World, home: Path) -> dict[str, Any]:
    """The world's resources over another data directory."""
    kafka = world.resources["kafka"]
    return run_resources(home=str(home), bootstrap_servers=kafka.bootstrap_servers, topic_prefix=kafka.topic_prefix)


def factory(home: Path) -> Factory:
    return Factory(FactorySettings(home=home))


def run_checks(home: Path, *selected: dg.AssetChecksDefinition) -> dict[str, dg.AssetCheckEvaluation]:
    # A failed blocking (ERROR) check fails its step, and so the run: read the evaluations anyway.
    result = dg.materialize([*UNPARTITIONED, *selected], resources=offline(home),
                            selection=dg.AssetSelection.checks(*selected), raise_on_error=False)
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_definitions_load_with_every_stage_grouped() -> None:
    graph = defs().resolve_asset_graph()
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups["kafka/raw_documents"] == "stream" and groups["vector_index"] == "index"
    assert {g for g in groups.values()} == {"stream", "lake", "index", "governance", "billing", "maintenance"}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.owners == ["team:data-platform"] and node.description and len(node.description) > 80, key


def test_no_group_mixes_partitioned_and_unpartitioned_assets() -> None:
    """A group's "Materialize all" in the UI launches one run only when none of its assets is
    partitioned; one partitioned asset turns it into a backfill of every partition."""
    graph = defs().resolve_asset_graph()
    partitioned: dict[str, set[bool]] = defaultdict(set)
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.is_materializable:
            partitioned[node.group_name].add(node.partitions_def is not None)
    assert {group: kinds for group, kinds in partitioned.items() if len(kinds) > 1} == {}


def test_ingest_job_is_the_whole_unpartitioned_pipeline_with_its_checks() -> None:
    """What the README says to press (Jobs > ingest_job > Materialize all) runs every
    unpartitioned asset and every check on them, and no partitioned asset."""
    graph = defs().resolve_asset_graph()
    selected = ingest_job.selection.resolve(graph)
    pipeline = {k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable
                and graph.get(k).partitions_def is None}
    assert selected == pipeline
    assert ingest_job.selection.resolve_checks(graph) == {c for k in pipeline for c in graph.get(k).check_keys}


def test_every_check_that_can_fail_with_error_blocks() -> None:
    specs = {f"{s.asset_key.to_user_string()}:{s.name}": s.blocking for c in CHECKS for s in c.check_specs}
    warn_only = {"raw_lake:raw_freshness", "chunks_lake:chunk_quality"}  # Dagster blocks on ERROR only
    assert {k for k, blocking in specs.items() if blocking} == set(specs) - warn_only


def test_whole_graph_materialises_with_metadata(world: World, embedder: Embedder) -> None:
    meta = world.meta()
    assert meta["raw_lake"]["published"].value == meta["raw_lake"]["raw_landed"].value == 11
    assert meta["raw_lake"]["rows"].value == 11 and meta["raw_lake"]["bytes"].value > 0
    assert set(meta["raw_lake"]["offsets_consumed"].value) == {f"dagster-test.raw-documents[{p}]" for p in range(4)}
    assert meta["chunks_lake"]["current_chunks"].value > 11
    index = meta["vector_index"]
    assert index["points_total"].value == meta["chunks_lake"]["current_chunks"].value - index["duplicates_folded"].value
    assert index["model"].value == embedder.fingerprint.id
    assert index["model_fingerprint"].value["dimension"] == embedder.fingerprint.dimension
    assert index["tokens_embedded"].value > index["points_upserted"].value > 0
    assert set(index["points_by_region"].value) == {"eu-central", "us-east"}
    assert meta["lineage_store"]["points_traced"].value == index["points_total"].value
    assert meta["lineage_store"]["untraceable_points"].value == 0
    events = [json.loads(line) for line in Path(meta["lineage_store"]["path"].value).read_text().splitlines()]
    run_id = world.result.run_id
    by_job = defaultdict(list)
    for e in events:
        by_job[e["job"]["name"]].append(e)
    # Each stage a step drove: START then COMPLETE, its parent the step, its root the Dagster run.
    for job, step in (("aifactory.ingest", "raw_lake"), ("aifactory.transform", "chunks_lake"),
                      ("aifactory.project", "vector_index"), ("aifactory.trace", "lineage_store")):
        assert [e["eventType"] for e in by_job[job]] == ["START", "COMPLETE"], job
        parent = by_job[job][1]["run"]["facets"]["parent"]
        assert (parent["job"]["namespace"], parent["job"]["name"]) == ("dagster", f"{world.result.job_def.name}.{step}")
        assert parent["root"]["run"]["runId"] == run_id
        assert by_job[job][0]["run"]["runId"] == by_job[job][1]["run"]["runId"]
    assert [problems(e) for e in events] == [[] for _ in events]
    traced = [i for i in by_job["aifactory.trace"][1]["inputs"] if "aifactory_trace" in i["facets"]]
    assert sum(i["facets"]["aifactory_trace"]["points"] for i in traced) == index["points_total"].value
    assert meta["usage_ledger"]["by_event"].value["embedding"] >= 1
    evaluations = {f"{e.asset_key.to_user_string()}:{e.check_name}": e
                   for e in world.result.get_asset_check_evaluations()}
    assert len(evaluations) == len(CHECKS)
    assert {k: e.passed for k, e in evaluations.items() if not e.passed} == {}


def test_lineage_of_a_cli_run_and_a_dagster_run_is_one_graph(world: World, tmp_path: Path,
                                                             embedder: Embedder) -> None:
    """A lineage server fed the events of a Dagster run and of a CLI run on the same data
    directory draws one node per dataset: both name each topic, lake table and collection alike."""
    home = planted(world, tmp_path)
    (home / "lineage" / "openlineage.jsonl").unlink()  # the world's events name the world's home
    dagster = dg.materialize([*UNPARTITIONED, *CHECKS], resources=elsewhere(world, home),
                             selection=[raw_lake, chunks_lake, vector_index, lineage_store],
                             run_config={"ops": {"raw_lake": {"config": {"sources_file": str(world.sources)}}}})
    assert dagster.success
    (tmp_path / "eu").mkdir()
    (tmp_path / "eu" / "new-policy.md").write_text("# Parental leave\n\nA new policy on parental leave in the EU.\n")
    kafka = world.resources["kafka"]
    settings = FactorySettings(home=home, kafka=KafkaSettings(bootstrap_servers=kafka.bootstrap_servers,
                                                              topic_prefix=kafka.topic_prefix))
    cli = Factory(settings, embedder=embedder)
    try:
        report = runner.run(cli, [Source(tmp_path / "eu", "helio-eu", "EU")])
    finally:
        cli.close()
    assert report.published == 1
    events = [json.loads(line) for line in (home / "lineage" / "openlineage.jsonl").read_text().splitlines()]
    assert [problems(e) for e in events] == [[] for _ in events]
    from_dagster = [e for e in events if "parent" in e["run"].get("facets", {})]
    from_cli = [e for e in events if e["job"]["name"] == "aifactory.run"]
    assert from_dagster and from_cli

    def nodes(of: list[dict[str, Any]]) -> set[tuple[str, str]]:
        return {(d["namespace"], d["name"]) for e in of for d in e.get("inputs", []) + e.get("outputs", [])}

    host = f"file://{lineage_names.host()}"
    broker = f"kafka://{kafka.bootstrap_servers.split(',')[0]}"
    model = cli.active_model() or {}
    want = {(broker, f"{kafka.topic_prefix}.{t}") for t in ("raw-documents", "chunks", "dead-letters")} | \
        {(host, str(home / "lake" / t)) for t in ("raw", "chunks", "dead_letters")} | \
        {(host, str(home / "index" / f"chunks__{r}__{model['id']}")) for r in ("eu-central", "us-east")} | \
        {(host, str(world.home.parent / f)) for f in ("eu", "us")} | {(host, str(tmp_path / "eu"))}
    assert nodes(events) <= want, nodes(events) - want  # one name per dataset, whoever wrote the event
    shared = nodes(from_dagster) & nodes(from_cli)
    assert {(host, str(home / "lake" / "raw")), (host, str(home / "lake" / "chunks")),
            (host, str(home / "index" / f"chunks__eu-central__{model['id']}"))} <= shared


def test_a_second_run_changes_nothing(world: World) -> None:
    again = dg.materialize([raw_lake, chunks_lake, dead_letters_lake, vector_index], resources=world.resources,
                           run_config={"ops": {"raw_lake": {"config": {"sources_file": str(world.sources)}}}})
    meta = world.meta(again)
    assert meta["raw_lake"]["published"].value == 0
    assert meta["vector_index"]["points_upserted"].value == meta["vector_index"]["tokens_embedded"].value == 0


def test_no_index_handle_outlives_a_step(world: World, broker: EmbeddedBroker, tmp_path: Path) -> None:
    """A step that read the index leaves no shard open, even while a reference cycle
    keeps its Factory alive (a Stream and its landers' closures) and the collector
    has not run: the next opener (a sensor's run, `aifactory serve`) is not refused."""
    home = planted(world, tmp_path)
    (tmp_path / "new").mkdir()
    shutil.copy(CORPUS / "helio-us" / "hr" / "parental-leave.md", tmp_path / "new")
    sources = tmp_path / "sources.yaml"  # a new tenant's document: the run drives a Stream to land it
    sources.write_text(yaml.safe_dump({"sources": [{"path": "new", "tenant": "helio-new", "jurisdiction": "US"}]}))
    resources = _resources(home, broker, f"h{uuid.uuid4().hex[:8]}")
    gc.disable()  # only reference counts free objects now, as between two collections
    try:
        result = dg.materialize([raw_lake], resources=resources,
                                run_config={"ops": {"raw_lake": {"config": {"sources_file": str(sources)}}}})
        assert result.success and world.meta(result)["raw_lake"]["published"].value == 1
        f = factory(home)
        try:
            index = f.index_without_model()
            assert index is not None and sum(index.count(r) for r in index.regions()) > 0
        finally:
            f.close()
    finally:
        gc.enable()


def _chunk_rows(home: Path) -> list[dict[str, Any]]:
    return pq.read_table(next((home / "lake" / "chunks").rglob("*.parquet"))).to_pylist()


def test_pii_check_fails_on_a_leaked_email(world: World, tmp_path: Path) -> None:
    home = planted(world, tmp_path)
    row = _chunk_rows(home)[0]
    Lake(home / "lake").write(CHUNKS, [{**row, "row_id": "planted", "chunk_id": "planted", "chunk_no": 99,
                                        "text": "Questions? Write to jane.doe@example.com any time."}])
    check = run_checks(home, checks.pii_leak)["pii_leak"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["leaks"].value == {"email": 1}
    assert check.metadata["sample"].value[0]["chunk_id"] == "planted"


LEAK = "Questions? Write to jane.doe@example.com any time."


def _indexed_texts(home: Path) -> list[str]:
    f = factory(home)
    index = f.index_without_model()
    assert index is not None
    texts = [hit.payload["text"] for region in index.regions() for hit in index.points(region)]
    f.close()
    return texts


@pytest.mark.parametrize("plant", ["clean", "pii_leak"])
def test_a_pii_leak_in_chunks_lake_stops_vector_index_in_the_same_run(world: World, tmp_path: Path,
                                                                      plant: str) -> None:
    home = planted(world, tmp_path)
    if plant == "pii_leak":  # a chunk that got past redaction (another writer on the lake, a broken rule)
        row = _chunk_rows(home)[0]
        Lake(home / "lake").write(CHUNKS, [{**row, "row_id": "planted", "chunk_id": "planted", "chunk_no": 99,
                                            "text": LEAK}])
    result = dg.materialize([*UNPARTITIONED, *CHECKS], resources=elsewhere(world, home),
                            selection=[chunks_lake, vector_index, lineage_store, usage_ledger], raise_on_error=False)
    materialised = set(world.meta(result))
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()
                   if e.asset_key == chunks_lake.key}
    if plant == "clean":
        assert result.success and all(e.passed for e in evaluations.values())
        assert materialised == {"chunks_lake", "vector_index", "lineage_store", "usage_ledger"}
        return
    assert materialised == {"chunks_lake"}  # vector_index and what follows it were skipped
    assert LEAK not in _indexed_texts(home)
    assert not result.success and not evaluations["pii_leak"].passed and evaluations["pii_leak"].blocking


def test_a_residency_violation_stops_lineage_and_metering_after_the_index(world: World, tmp_path: Path) -> None:
    """vector_index's own ERROR checks gate what is downstream of it: no lineage_store
    COMPLETE event (consumers would read it as a good dataset) and no usage summary."""
    home = planted(world, tmp_path)
    row = pq.read_table(next((home / "lake" / "raw" / "region=us-east").rglob("*.parquet"))).slice(0, 1).to_pylist()[0]
    Lake(home / "lake").write(RAW, [{**row, "event_id": "planted", "region": "eu-central"}])
    lineage = home / "lineage" / "openlineage.jsonl"
    events_before = lineage.read_text().count("\n")
    result = dg.materialize([*UNPARTITIONED, *CHECKS], resources=elsewhere(world, home),
                            selection=[vector_index, lineage_store, usage_ledger], raise_on_error=False)
    checks_run = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(world.meta(result)) == {"vector_index"}
    new = [json.loads(line) for line in lineage.read_text().splitlines()[events_before:]]
    assert [(e["job"]["name"], e["eventType"]) for e in new] == [("aifactory.project", "START"),
                                                                 ("aifactory.project", "COMPLETE")]
    assert not result.success and not checks_run["residency_compliance"].passed


def test_residency_check_fails_on_a_record_in_the_wrong_region(world: World, tmp_path: Path) -> None:
    home = planted(world, tmp_path)
    row = pq.read_table(next((home / "lake" / "raw" / "region=us-east").rglob("*.parquet"))).slice(0, 1).to_pylist()[0]
    # Written past the guard (another tool on the same lake).
    Lake(home / "lake").write(RAW, [{**row, "event_id": "planted", "region": "eu-central"}])
    check = run_checks(home, checks.residency_compliance)["residency_compliance"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "1 US record(s) of helio-us in raw lake at eu-central" in (check.description or "")


def test_index_completeness_fails_on_a_missing_point(world: World, tmp_path: Path) -> None:
    home = planted(world, tmp_path)
    f = factory(home)
    index = f.index_without_model()
    assert index is not None
    gone = sorted(index.ids("eu-central"))[0]
    index.delete("eu-central", [gone])
    f.close()
    check = run_checks(home, checks.index_completeness)["index_completeness"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    parts = check.metadata["partitions"].value
    assert parts["eu-central/helio-eu"]["missing"] == 1 and parts["us-east/helio-us"]["missing"] == 0


def test_duplicates_fail_and_compaction_folds_them(world: World, tmp_path: Path) -> None:
    home = planted(world, tmp_path)
    rows = _chunk_rows(home)
    Lake(home / "lake").write(CHUNKS, rows[:1])  # the same row again, in a file of its own
    check = run_checks(home, checks.duplicate_ratio)["duplicate_ratio"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["repeated_keys"].value["chunks"] == 1
    day, region = rows[0]["event_time"].date().isoformat(), rows[0]["region"]
    result = dg.materialize([raw_lake, chunks_lake, dead_letters_lake, compacted_lake_partition],
                            resources=offline(home),
                            selection=[compacted_lake_partition], partition_key=f"{day}|{region}")
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert meta["repeated_rows_dropped"].value == 1 and meta["files_after"].value < meta["files_before"].value
    assert run_checks(home, checks.duplicate_ratio)["duplicate_ratio"].passed


def test_compaction_keeps_a_concurrent_rewrite(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An erasure that rewrites a file while compaction merges it wins: erased rows never return."""
    home = planted(world, tmp_path)
    rows = _chunk_rows(home)
    key = Lake(home / "lake").write(CHUNKS, rows[:1])[0]
    dup = home / "lake" / key
    folder = dup.parent
    before = set(folder.glob("*.parquet"))
    f = factory(home)
    write = f.lake.write

    def write_then_erase(spec: Any, new_rows: list[dict[str, Any]]) -> list[str]:
        written = write(spec, new_rows)
        dup.unlink()  # what remove_rows does to a file it rewrites
        return written

    monkeypatch.setattr(f.lake, "write", write_then_erase)
    done = compact_folder(f, CHUNKS, key.rsplit("/", 1)[0])
    assert done["changed_meanwhile"] == 1
    assert set(folder.glob("*.parquet")) == before - {dup}


@pytest.mark.parametrize("plant", ["extra_column", "empty_chunk"])
def test_schema_and_quality_checks_fail_on_planted_chunks(world: World, tmp_path: Path, plant: str) -> None:
    home = planted(world, tmp_path)
    row = _chunk_rows(home)[0]
    folder = next((home / "lake" / "chunks").rglob("*.parquet")).parent
    if plant == "extra_column":
        table = pa.Table.from_pylist([{**row, "row_id": "planted", "surprise": 1}])
        pq.write_table(table, folder / "part-planted.parquet")
        check = checks.evaluate_schema_drift(factory(home), CHUNKS)
        assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
        assert "surprise" in str(check.metadata["unexpected_or_retyped"].value)
    else:
        Lake(home / "lake").write(CHUNKS, [{**row, "row_id": "planted", "chunk_id": "planted", "chunk_no": 99,
                                            "text": "  "}])
        check = run_checks(home, checks.chunk_quality)["chunk_quality"]
        assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
        assert check.metadata["empty_sample"].value == ["planted"]


def test_freshness_warns_when_nothing_landed_for_a_day(world: World) -> None:
    f = factory(world.home)
    assert checks.evaluate_freshness(f).passed
    stale = checks.evaluate_freshness(f, now=datetime.now(UTC) + timedelta(days=2))
    assert not stale.passed and stale.severity == dg.AssetCheckSeverity.WARN


def _age_raw_lake(home: Path, by: timedelta) -> None:
    """Every raw row landed `by` earlier: the lake of a factory where nothing has landed since."""
    for path in (home / "lake" / "raw").rglob("*.parquet"):
        table = pq.read_table(path)
        rows = [{**r, "landed_at": r["landed_at"] - by} for r in table.to_pylist()]
        pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)


@pytest.mark.parametrize("age", [timedelta(0), checks.FRESHNESS_MAX_AGE + timedelta(hours=1)])
def test_freshness_schedule_evaluates_raw_freshness_without_a_raw_lake_run(
        world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, age: timedelta) -> None:
    """The case raw_freshness exists for is the one where nothing runs raw_lake: an hourly
    schedule, on by default, runs the check alone against the lake."""
    home = planted(world, tmp_path)
    _age_raw_lake(home, age)
    monkeypatch.setenv("AIFACTORY_HOME", str(home))  # read by the composition root at launch
    d = defs()
    schedule = d.resolve_schedule_def("freshness_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING and schedule.cron_schedule == "0 * * * *"
    result = d.resolve_job_def(schedule.job_name).execute_in_process()
    assert result.success and not result.get_asset_materialization_events()
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "raw_freshness"
    assert check.passed == (age <= checks.FRESHNESS_MAX_AGE)
    if not check.passed:
        age_hours = check.metadata["age_hours"].value
        assert check.severity == dg.AssetCheckSeverity.WARN and isinstance(age_hours, float) and age_hours > 24


def test_tenant_usage_daily_reconciles_with_the_ledger(world: World) -> None:
    today = datetime.now(UTC).date().isoformat()
    result = dg.materialize([usage_ledger, tenant_usage_daily], selection=[tenant_usage_daily], partition_key=today,
                            resources=offline(world.home))
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    totals = factory(world.home).ledger.totals()
    assert meta["tokens_embedded"].value == sum(t["tokens"] for t in totals.values()) > 0
    assert meta["tenants"].value == 2 and meta["total_cost"].value > 0
    assert Path(meta["path"].value).name == f"{today}.json"
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    empty = dg.materialize([usage_ledger, tenant_usage_daily], selection=[tenant_usage_daily],
                           partition_key=yesterday, resources=offline(world.home))
    assert empty.get_asset_materialization_events()[0].materialization.metadata["tokens_embedded"].value == 0


def test_workspace_yaml_loads_for_dagster_dev() -> None:
    proc = subprocess.run(["dagster", "definitions", "validate", "-w", "workspace.yaml"], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "All code locations passed validation" in proc.stdout + proc.stderr

