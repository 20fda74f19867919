"""The usage ledger reconciles: with the lake (documents, bytes, chunks), with the
model's own tokenizer over what was embedded, with the index (vectors stored, also
after an erasure), with the requests the API served under parallel load; and a run
that does nothing meters nothing."""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest
from transformers import AutoTokenizer

from governance.carbon import FLAT_G_PER_KWH, device_watts
from governance.ledger import UsageEntry
from ingest.sources import Source
from ingest.tables import RAW
from pipeline import runner
from pipeline.erasure import erase
from pipeline.factory import Factory
from pipeline.settings import PROJECT_ROOT
from tests.conftest import MakeFactory
from tests.integration.conftest import ApiWorld
from transforms.tables import CHUNKS
from vectorstore.embedder import Embedder

pytestmark = pytest.mark.integration

CORPUS = PROJECT_ROOT / "examples" / "corpus"
FILES = {("helio-eu", "EU"): ("hr/remote-work.md", "products/atlas-error-codes.md", "support/tickets.jsonl"),
         ("helio-us", "US"): ("hr/travel-expenses.md", "meetings/2026-02-18-sales-pipeline.txt")}


def model_tokens(embedder: Embedder, texts: list[str]) -> int:
    """Tokens as the model's own (Hugging Face) tokenizer counts them, capped where the model stops reading."""
    tok = AutoTokenizer.from_pretrained(embedder.model_path, local_files_only=True)
    cap = embedder.model.max_seq_length - 2  # [CLS] and [SEP] take two places
    return sum(len(tok(t, add_special_tokens=False, truncation=True, max_length=cap)["input_ids"]) for t in texts)


def sources(tmp: Path) -> list[Source]:
    out = []
    for (tenant, jurisdiction), files in FILES.items():
        root = tmp / tenant
        for rel in files:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(CORPUS / tenant / rel, root / rel)
        out.append(Source(root, tenant, jurisdiction))
    return out


def sums(entries: list[UsageEntry], event: str, field: str) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for e in entries:
        if e.event == event:
            out[e.tenant] += getattr(e, field)
    return dict(out)


def latest_storage(factory: Factory) -> dict[tuple[str, str], int]:
    latest: dict[tuple[str, str], UsageEntry] = {}
    for e in factory.ledger.entries():
        if e.event == "storage":
            latest[(e.tenant, e.region)] = e
    return {k: e.vectors for k, e in latest.items()}


def indexed(factory: Factory) -> list[dict[str, Any]]:
    index = factory.index
    return [h.payload for region in index.regions() for h in index.points(region)]


def test_the_ledger_reconciles_with_lake_tokenizer_and_index(tmp_path: Path, make_factory: MakeFactory,
                                                             embedder: Embedder) -> None:
    factory = make_factory(tmp_path / "home")
    srcs = sources(tmp_path / "src")
    report = runner.run(factory, srcs)
    entries = list(factory.ledger.entries())
    assert entries and {e.run_id for e in entries} == {report.run_id}  # every entry joins to the run's lineage

    con = factory.lake.connect(RAW, CHUNKS)
    docs = dict(con.execute("SELECT tenant, count(*) FROM raw WHERE op = 'upsert' GROUP BY 1").fetchall())
    size = dict(con.execute("SELECT tenant, sum(strlen(text))::BIGINT FROM raw WHERE op = 'upsert' "
                            "GROUP BY 1").fetchall())
    chunks = dict(con.execute("SELECT tenant, count(*) FROM chunks WHERE op = 'upsert' GROUP BY 1").fetchall())
    con.close()
    assert sums(entries, "ingest", "documents") == docs and set(docs) == {"helio-eu", "helio-us"}
    assert sums(entries, "ingest", "bytes") == size
    assert sums(entries, "chunking", "chunks") == chunks

    points = indexed(factory)
    by_tenant: dict[str, list[str]] = defaultdict(list)
    for p in points:
        by_tenant[p["tenant"]].append(f"{p['title']}\n{p['text']}" if p["title"] else p["text"])
    assert sums(entries, "embedding", "texts") == {t: len(v) for t, v in by_tenant.items()}
    assert sums(entries, "embedding", "tokens") == {t: model_tokens(embedder, v) for t, v in by_tenant.items()}
    assert all(e.device == embedder.device_name and e.compute_seconds > 0 and e.model == embedder.fingerprint.id
               for e in entries if e.event == "embedding")
    # Energy is the device's power times those seconds; emissions that at the (flat) intensity.
    watts = device_watts(embedder.device_name)
    for e in (e for e in entries if e.event == "embedding"):
        assert e.energy_wh == pytest.approx(watts * e.compute_seconds / 3600) and e.energy_wh > 0
        assert e.co2e_g == pytest.approx(e.energy_wh / 1000 * FLAT_G_PER_KWH)
    stored = Counter((p["tenant"], p["region"]) for p in points)
    assert latest_storage(factory) == dict(stored)

    # Nothing changed: the run embeds nothing and meters nothing.
    again = runner.run(factory, srcs)
    assert again.index is not None and again.index.upserted == 0
    assert len(list(factory.ledger.entries())) == len(entries)

    # Erasing a document: the stored-vector figure falls by exactly its points.
    doc = next(p["document_id"] for p in points if p["tenant"] == "helio-eu")
    gone = sum(1 for p in points if p["document_id"] == doc)
    before = latest_storage(factory)[("helio-eu", "eu-central")]
    erase(factory, "helio-eu", document=doc)
    assert latest_storage(factory)[("helio-eu", "eu-central")] == before - gone
    assert latest_storage(factory)[("helio-us", "us-east")] == stored[("helio-us", "us-east")]
    factory.close()


QUERIES = ["remote work allowance", "travel expenses per diem", "error code E42", "who approves leave?",
           "ops review action items", "password rotation policy", "quarterly budget", "VPN setup"]


def test_parallel_api_load_loses_no_ledger_entry(api_world: ApiWorld, embedder: Embedder) -> None:
    # A key of its own, so the entries of other tests do not mix in.
    key, token = api_world.keys.create("helio-eu", "reader", ["eu-central"])
    run_id = f"api-{key.key_id}"
    headers = {"Authorization": f"Bearer {token}"}
    served: list[tuple[str, str, int]] = []  # (route, query, context tokens)
    refused: list[int] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        with httpx.Client(base_url=api_world.url, headers=headers, timeout=60) as http:
            for i in range(12):
                query = f"{QUERIES[(n + i) % len(QUERIES)]} {n}-{i}"
                if i % 3 == 2:
                    r = http.post("/v1/rag/context", json={"question": query, "token_budget": 300})
                    ctx = r.json().get("tokens", 0) if r.status_code == 200 else 0
                else:
                    r = http.post("/v1/search", json={"query": query, "top_k": 5})
                    ctx = 0
                with lock:
                    (served.append((r.url.path, query, ctx)) if r.status_code == 200
                     else refused.append(r.status_code))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not refused and len(served) == 96

    def mine() -> list[UsageEntry]:
        return [e for e in api_world.factory.ledger.entries() if e.run_id == run_id]

    deadline = time.monotonic() + 10  # the API's ledger writer flushes in batches
    while sum(e.queries for e in mine() if e.event == "query") < len(served) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # and nothing more arrives
    entries = mine()
    queries = [e for e in entries if e.event == "query"]
    assert len(queries) == len(served) and sum(e.queries for e in queries) == len(served)
    assert all(e.tenant == "helio-eu" for e in entries)
    assert {e.region for e in entries} == {"eu-central"}  # billed to the region searched, at its price
    assert sum(e.tokens for e in queries) == model_tokens(embedder, [q for _, q, _ in served])
    contexts = [e for e in entries if e.event == "rag_context"]
    assert len(contexts) == sum(1 for route, _, _ in served if route == "/v1/rag/context")
    assert sum(e.tokens for e in contexts) == sum(c for _, _, c in served)
