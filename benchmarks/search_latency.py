"""Search latency: top-10 dense queries under a tenant filter, on Qdrant Edge and on
qdrant-client's local mode, over the same random points.

    python -m benchmarks.search_latency --points 10000 100000

Prints p50 and p99 in milliseconds for each adapter and the ratio local/Edge.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from vectorstore.edge import EdgeIndex
from vectorstore.index import IndexPoint, Query, VectorIndex
from vectorstore.qdrant import QdrantIndex

DIM = 384
TENANTS = 10
QUERIES = 300


def fill(index: VectorIndex, vectors: np.ndarray) -> float:
    started = time.perf_counter()
    batch = 5_000
    for start in range(0, len(vectors), batch):
        index.upsert("bench", [IndexPoint(str(uuid.UUID(int=i + 1)), vectors[i].tolist(),
                                          {"tenant": f"t{i % TENANTS}", "screening": "clear", "document_id": f"d{i}"})
                               for i in range(start, min(start + batch, len(vectors)))])
    optimize = getattr(index, "optimize", None)
    if optimize:
        optimize()
    return time.perf_counter() - started


def latencies(index: VectorIndex, queries: np.ndarray) -> list[float]:
    out = []
    for n, q in enumerate(queries):
        started = time.perf_counter()
        hits = index.search("bench", Query(dense=q.tolist(), tenant=f"t{n % TENANTS}", top_k=10))
        out.append((time.perf_counter() - started) * 1000)
        assert len(hits) == 10
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--local-queries", type=int, default=50, help="queries timed on qdrant-client local mode")
    args = ap.parse_args()
    rng = np.random.default_rng(5)
    print(f"{'points':>8} {'adapter':<14}{'load s':>8}{'p50 ms':>9}{'p99 ms':>9}")
    for n in args.points:
        vectors = rng.normal(size=(n, DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        queries = rng.normal(size=(QUERIES, DIM)).astype(np.float32)
        figures = {}
        for name in ("qdrant-edge", "qdrant-local"):
            work = Path(tempfile.mkdtemp(prefix="aifactory-search-"))
            index: VectorIndex = (EdgeIndex(work, model_id="bench", dimension=DIM) if name == "qdrant-edge"
                                  else QdrantIndex.local(str(work), model_id="bench", dimension=DIM))
            load = fill(index, vectors)
            latencies(index, queries[:5])  # warm up
            # local mode scans in Python: fewer queries keep the run short
            lat = latencies(index, queries if name == "qdrant-edge" else queries[:args.local_queries])
            p50, p99 = float(np.percentile(lat, 50)), float(np.percentile(lat, 99))
            figures[name] = p99
            print(f"{n:>8} {name:<14}{load:>8.1f}{p50:>9.2f}{p99:>9.2f}")
            index.close()
        print(f"{n:>8} p99 ratio local/edge: {figures['qdrant-local'] / figures['qdrant-edge']:.1f}x")


if __name__ == "__main__":
    main()
