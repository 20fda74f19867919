"""Latency and throughput of `POST /v1/search` against the same query made in-process
through the index adapter, over N points on Qdrant Edge.

    python -m benchmarks.api_latency --points 100000 --seconds 10

Points get random unit vectors and a small payload, over 10 tenants. The queries are
real texts embedded by the real model on both sides, so the difference of the p50s
is the API's own overhead (HTTP, auth, validation, metering, JSON). The server runs
in its own process (uvicorn, one worker); the load generator keeps one keep-alive
connection per client thread, for a bounded time per concurrency level.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Collection
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from governance.keys import KeyStore
from governance.ledger import Ledger, LedgerWriter, UsageEntry
from governance.quotas import QuotaBook
from vectorstore.edge import EdgeIndex
from vectorstore.embedder import Embedder, load_embedder
from vectorstore.index import IndexPoint, VectorIndex
from vectorstore.search import search

DIM, TENANTS, REGION = 384, 10, "eu-central"
QUERIES = ["How long is parental leave?", "What does error E-305 mean?", "mileage reimbursement rate",
           "warranty on the charging dock", "who approves remote work", "battery swap procedure"]


def fill(index: VectorIndex, n: int) -> None:
    rng = np.random.default_rng(5)
    for start in range(0, n, 5_000):
        vecs = rng.normal(size=(min(5_000, n - start), DIM)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        index.upsert(REGION, [IndexPoint(str(uuid.UUID(int=start + i + 1)), v.tolist(), payload(start + i))
                              for i, v in enumerate(vecs)])
    index.optimize()


def payload(n: int) -> dict[str, Any]:
    tenant = f"t{n % TENANTS}"
    return {"tenant": tenant, "screening": "clear", "document_id": f"{tenant}:d{n}", "title": f"Document {n}",
            "text": "lorem ipsum " * 40, "source_uri": f"file:///d{n}.md", "region": REGION, "event_id": "e",
            "chunk_id": "c", "version": 1, "chunk_no": 0}


class BenchBackend:
    """The API's backend over a bare index: search only, metering to a ledger file."""

    def __init__(self, index: VectorIndex, embedder: Embedder, home: Path) -> None:
        self.index, self.embedder = index, embedder
        self.writer = LedgerWriter(Ledger(home / "usage.jsonl"))
        self.quotas = QuotaBook(None)
        self.month_spend = lambda tenant: 0.0

    def meter(self, entry: UsageEntry) -> None:
        self.writer.put(entry)

    def ready(self) -> dict[str, str]:
        return {"index": "ok"}

    def document(self, tenant: str, document_id: str) -> None:
        return None

    def delete_document(self, tenant: str, document_id: str, actor: str = "") -> None:
        return None

    def deletion(self, tenant: str, request_id: str) -> None:
        return None

    def lineage(self, tenant: str, item_id: str, regions: Collection[str] | None = None) -> None:
        return None

    def usage(self, tenant: str | None, period: str) -> dict[str, Any] | None:
        return None


def serve(home: Path, port: int) -> None:
    import uvicorn

    from vectorstore.api.app import ApiLimits, create_app

    backend = BenchBackend(EdgeIndex(home / "index", model_id="bench", dimension=DIM), load_embedder(), home)
    app = create_app(backend, KeyStore(home / "keys.json"), ApiLimits(rate_per_s=0))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p)) if values else float("nan")


def load(url: str, token: str, clients: int, seconds: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        nonlocal errors
        mine: list[float] = []
        bad = 0
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            i = n
            while time.monotonic() < stop:
                started = time.perf_counter()
                r = http.post("/v1/search", json={"query": QUERIES[i % len(QUERIES)], "top_k": 10})
                mine.append((time.perf_counter() - started) * 1000)
                bad += r.status_code != 200
                i += clients
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=10.0, help="per concurrency level")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=8765)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        embedder = load_embedder()
        index = EdgeIndex(home / "index", model_id="bench", dimension=DIM)
        t = time.perf_counter()
        fill(index, args.points)
        print(f"{args.points} points loaded in {time.perf_counter() - t:.1f} s")
        inproc = []
        for i in range(300):
            started = time.perf_counter()
            search(index, embedder, QUERIES[i % len(QUERIES)], tenant=f"t{i % TENANTS}", top_k=10)
            inproc.append((time.perf_counter() - started) * 1000)
        index.close()  # one process owns an Edge shard at a time: the server opens it next
        _, token = KeyStore(home / "keys.json").create("t1", "reader", [REGION])
        server = subprocess.Popen([sys.executable, "-m", "benchmarks.api_latency", "--serve", str(home),
                                   "--port", str(args.port)], env=os.environ.copy())
        url = f"http://127.0.0.1:{args.port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the API server did not start")
                time.sleep(0.2)
            load(url, token, 1, 2.0)  # warm up
            p50_in = statistics.median(inproc)
            print(f"\n{'path':<22}{'clients':>8}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
            print(f"{'in-process adapter':<22}{1:>8}{len(inproc):>10}{1000 / statistics.mean(inproc):>9.1f}"
                  f"{p50_in:>9.2f}{pct(inproc, 99):>9.2f}{0:>8}")
            overhead = float("nan")
            for clients in args.clients:
                lat, errors = load(url, token, clients, args.seconds)
                print(f"{'POST /v1/search':<22}{clients:>8}{len(lat):>10}{len(lat) / args.seconds:>9.1f}"
                      f"{pct(lat, 50):>9.2f}{pct(lat, 99):>9.2f}{errors:>8}")
                if clients == 1:
                    overhead = pct(lat, 50) - p50_in
            print(f"\nAPI overhead at p50, one client: {overhead:.2f} ms (target < 2 ms); "
                  f"ratio API/in-process p50 {(p50_in + overhead) / p50_in:.2f}")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
