"""The whole pipeline over the bundled sample corpus, on real parts: the Tansu
broker, the faust worker, Parquet and DuckDB, the MiniLM model, Qdrant Edge."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ingest.broker import EmbeddedBroker
from ingest.settings import KafkaSettings
from ingest.tables import RAW
from pipeline import runner
from pipeline.factory import Factory
from pipeline.settings import PROJECT_ROOT, SAMPLE_SOURCES, FactorySettings, load_sources
from pipeline.status import status
from transforms.tables import CHUNKS
from transforms.tokens import token_counter
from vectorstore.embedder import Embedder
from vectorstore.search import search

pytestmark = pytest.mark.integration

QUERIES = [json.loads(line) for line in (PROJECT_ROOT / "examples" / "queries.jsonl").read_text().splitlines()
           if line.strip()]


@pytest.fixture(scope="module")
def sample(broker: EmbeddedBroker, embedder: Embedder,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Factory, runner.RunReport]]:
    kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers,
                          topic_prefix=f"sample{uuid.uuid4().hex[:8]}")
    factory = Factory(FactorySettings(home=tmp_path_factory.mktemp("home"), kafka=kafka, stage_timeout_s=180),
                      embedder=embedder)
    report = runner.run(factory, load_sources(SAMPLE_SOURCES))
    yield factory, report
    factory.close()


def expected_document(query: dict[str, Any]) -> str:
    return f"{query['tenant']}:{query['expected']}"


def snapshot(factory: Factory) -> dict[str, dict[str, Any]]:
    index = factory.index
    # The run that wrote a point is lineage, not content: a replay is another run.
    return {h.id: {k: v for k, v in h.payload.items() if k != "run_id"} for region in index.regions()
            for h in index.points(region)}


def test_first_run_publishes_and_indexes_every_document(sample: tuple[Factory, runner.RunReport]) -> None:
    factory, report = sample
    totals = status(factory)["totals"]
    assert report.published == totals["events"] == totals["documents"] >= 40
    assert totals["dead_letters"] == 0
    assert report.chunks_landed == totals["current_chunks"] > totals["documents"]
    assert totals["points"] == totals["current_chunks"] - totals["duplicates_folded"]
    assert report.index is not None and report.index.upserted == totals["points"]


def test_embedding_is_metered_per_tenant_and_reconciles(sample: tuple[Factory, runner.RunReport]) -> None:
    factory, report = sample
    entries = list(factory.ledger.entries())
    assert {e.run_id for e in entries} == {report.run_id} and {e.event for e in entries} == {
        "ingest", "chunking", "embedding", "storage"}
    stored = sum(e.vectors for e in entries if e.event == "storage")
    assert stored == sum(factory.index.count(r) for r in factory.index.regions())
    counter = token_counter(factory.embedder.model_path)
    limit = counter.max_seq_length - 2
    for tenant, totals in factory.ledger.totals().items():
        points = [h.payload for r in factory.index.regions() for h in factory.index.points(r)
                  if h.payload["tenant"] == tenant]
        texts = [f"{p['title']}\n{p['text']}" if p["title"] else p["text"] for p in points]
        assert totals["texts"] == len(points)
        assert totals["tokens"] == sum(min(n, limit) for n in counter.count_many(texts))
        assert totals["devices"] == ["cpu"] and totals["compute_seconds"] > 0


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
@pytest.mark.parametrize("query", QUERIES, ids=[q["expected"] for q in QUERIES])
def test_known_question_finds_its_document(sample: tuple[Factory, runner.RunReport],
                                           query: dict[str, Any], mode: str) -> None:
    factory, _ = sample
    results = search(factory.index, factory.embedder, query["question"], tenant=query["tenant"], top_k=3,
                     mode=mode)  # type: ignore[arg-type]
    assert expected_document(query) in [r.document_id for r in results], \
        f"{query['question']!r} -> {[r.document_id for r in results]}"


def test_search_never_returns_another_tenants_chunks(sample: tuple[Factory, runner.RunReport]) -> None:
    factory, _ = sample
    for query in QUERIES:
        for tenant in ("helio-eu", "helio-us"):
            results = search(factory.index, factory.embedder, query["question"], tenant=tenant, top_k=10)
            assert results and {r.document_id.split(":")[0] for r in results} == {tenant}


def test_residency_each_point_lives_in_its_jurisdictions_region(sample: tuple[Factory, runner.RunReport]) -> None:
    factory, _ = sample
    index = factory.index
    assert index.regions() == ["eu-central", "us-east"]
    for region in index.regions():
        for hit in index.points(region):
            assert hit.payload["region"] == region
            assert factory.policy.home_region(hit.payload["jurisdiction"]) == region


def test_every_point_traces_back_to_its_event_and_lake_rows(sample: tuple[Factory, runner.RunReport]) -> None:
    factory, _ = sample
    con = factory.lake.connect(RAW, CHUNKS)
    points = snapshot(factory)
    for payload in list(points.values())[:50]:
        raw = con.execute(
            "SELECT event_id, document_id, version, source_uri FROM raw "
            "WHERE log_epoch = ? AND log_topic = ? AND log_partition = ? AND log_offset = ?",
            [payload["log_epoch"], payload["topic"], payload["partition"], payload["offset"]]).fetchall()
        assert raw == [(payload["event_id"], payload["document_id"], payload["version"],
                        payload["source_uri"].split("#")[0] + ("#" + payload["source_uri"].split("#")[1]
                                                                if "#" in payload["source_uri"] else ""))]
        chunk = con.execute("SELECT text FROM chunks WHERE row_id = ?", [payload["row_id"]]).fetchall()
        assert chunk == [(payload["text"],)]
        assert payload["model"] == factory.embedder.fingerprint.id
    con.close()


def test_rerun_over_the_same_corpus_changes_nothing(sample: tuple[Factory, runner.RunReport]) -> None:
    factory, _ = sample
    before = snapshot(factory)
    files_before = factory.lake.files(RAW) + factory.lake.files(CHUNKS)
    metered = len(list(factory.ledger.entries()))
    report = runner.run(factory, load_sources(SAMPLE_SOURCES))
    assert len(list(factory.ledger.entries())) == metered  # nothing embedded, nothing metered
    assert report.published == 0 and report.recovered == 0
    assert report.index is not None and (report.index.upserted, report.index.deleted) == (0, 0)
    assert snapshot(factory) == before
    assert factory.lake.files(RAW) + factory.lake.files(CHUNKS) == files_before


def test_replay_rebuilds_an_identical_index(sample: tuple[Factory, runner.RunReport]) -> None:
    factory, _ = sample
    before = snapshot(factory)
    chunks_before = factory.lake.keys(CHUNKS)
    report = runner.replay(factory)
    assert report.recovered == len(factory.lake.keys(RAW))
    request, done = [e for e in factory.audit.entries() if e["action"].startswith("replay.")][-2:]
    assert (request["action"], done["action"]) == ("replay.request", "replay.done")  # a privileged rebuild
    assert request["details"]["run_id"] == done["details"]["run_id"] == report.run_id
    assert done["details"]["events"] == report.recovered and done["from"]["pid"] > 0
    assert factory.lake.keys(CHUNKS) == chunks_before
    assert snapshot(factory) == before
