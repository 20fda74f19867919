"""Search at scale on Qdrant Edge: filtered top-10 latency, recall against exact search,
and the index's size, unquantised and quantised, over the same points.

    python -m benchmarks.search_scale --points 1000000
    python -m benchmarks.search_scale --points 100000 --variants none,int8

Points are 384-dimensional unit vectors drawn around 2,000 topic centres (cosine to
their centre ~0.7), as sentence embeddings cluster, not uniform noise; each carries one
of 10 tenants, and every query is filtered by one, as the product's searches are
(~100k points per tenant at 1M). The shard is configured as the product's (cosine
distance, a keyword index on the tenant), plus the variant's quantisation:

- none: float32 vectors, HNSW (m 16, ef_construct 100);
- int8: scalar quantisation (quantile 0.99) kept in RAM, searched with rescoring of 2x
  oversampled candidates on the original vectors;
- binary: 1-bit quantisation kept in RAM, rescored from 3x oversampling.

Recall@10 is the share of each query's exact top 10 (numpy over the tenant's points)
that the index returns, averaged over the queries. Each variant is built in a child
process of its own; its memory is that child's RSS after the build minus the RSS it had
holding only the generated vectors. Latency is one query at a time, in the child.
Prints the table and each variant's recall as a share of the unquantised index's
(the issue's bar: quantisation is kept only at 0.98 or better).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_edge import (
    BinaryQuantizationConfig,
    Distance,
    EdgeConfig,
    EdgeShard,
    EdgeVectorParams,
    FieldCondition,
    Filter,
    HnswIndexConfig,
    MatchValue,
    PayloadSchemaType,
    Point,
    QuantizationSearchParams,
    QueryRequest,
    ScalarQuantizationConfig,
    ScalarType,
    SearchParams,
    UpdateOperation,
)
from qdrant_edge import Query as EdgeQuery

DIM = 384
TENANTS = 10
CENTRES = 2_000
QUERIES = 300
BATCH = 2_000
VARIANTS = ("none", "int8", "binary")
OVERSAMPLING = {"int8": 2.0, "binary": 3.0}
RESULT = "RESULT "


def data(points: int, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """`points` clustered unit vectors and QUERIES queries drawn the same way."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(CENTRES, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)

    def draw(n: int) -> np.ndarray:
        out = np.empty((n, DIM), dtype=np.float32)
        for start in range(0, n, 100_000):
            m = min(100_000, n - start)
            block = centres[rng.integers(0, CENTRES, m)] + rng.normal(size=(m, DIM)).astype(np.float32) / np.sqrt(DIM)
            out[start:start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
        return out

    return draw(points), draw(QUERIES)


def exact_top10(vectors: np.ndarray, queries: np.ndarray) -> list[set[int]]:
    tenant_of = np.arange(len(vectors)) % TENANTS
    out = []
    for n, q in enumerate(queries):
        rows = np.flatnonzero(tenant_of == n % TENANTS)
        scores = vectors[rows] @ q
        out.append({int(i) for i in rows[np.argpartition(-scores, 10)[:10]]})
    return out


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def config(variant: str) -> EdgeConfig:
    quantization: Any = None
    if variant == "int8":
        quantization = ScalarQuantizationConfig(type=ScalarType.Int8, quantile=0.99, always_ram=True)
    elif variant == "binary":
        quantization = BinaryQuantizationConfig(always_ram=True)
    return EdgeConfig(vectors={"dense": EdgeVectorParams(size=DIM, distance=Distance.Cosine,
                                                         quantization_config=quantization)},
                      hnsw_config=HnswIndexConfig(m=16, ef_construct=100, full_scan_threshold=10_000))


def measure(variant: str, points: int, work: Path) -> dict[str, Any]:
    vectors, queries = data(points)
    truth = exact_top10(vectors, queries)
    base = rss_mb()
    shard = EdgeShard.create(str(work), config(variant))
    shard.update(UpdateOperation.create_field_index("tenant", PayloadSchemaType.Keyword))
    started = time.perf_counter()
    for start in range(0, points, BATCH):
        shard.update(UpdateOperation.upsert_points([
            Point(str(uuid.UUID(int=i + 1)), {"dense": vectors[i].tolist()}, {"tenant": f"t{i % TENANTS}"})
            for i in range(start, min(start + BATCH, points))]))
    loaded = time.perf_counter() - started
    shard.optimize()
    shard.flush()
    built = time.perf_counter() - started
    params = None if variant == "none" else SearchParams(quantization=QuantizationSearchParams(
        rescore=True, oversampling=OVERSAMPLING[variant]))

    def query(n: int, q: np.ndarray) -> list[Any]:
        flt = Filter(must=[FieldCondition(key="tenant", match=MatchValue(f"t{n % TENANTS}"))])
        return list(shard.query(QueryRequest(limit=10, query=EdgeQuery.Nearest(q.tolist(), using="dense"),
                                             filter=flt, with_payload=False, params=params)))

    for n in range(10):  # warm up
        query(n, queries[n])
    latencies, recalls = [], []
    for n, q in enumerate(queries):
        began = time.perf_counter()
        hits = query(n, q)
        latencies.append((time.perf_counter() - began) * 1000)
        recalls.append(len({uuid.UUID(str(h.id)).int - 1 for h in hits} & truth[n]) / 10)
    index_mb = rss_mb() - base
    shard.close()
    disk_mb = sum(f.stat().st_size for f in work.rglob("*") if f.is_file()) / 2**20
    return {"variant": variant, "points": points, "load_s": loaded, "build_s": built,
            "p50_ms": float(np.percentile(latencies, 50)), "p99_ms": float(np.percentile(latencies, 99)),
            "recall": float(np.mean(recalls)), "index_rss_mb": index_mb, "disk_mb": disk_mb}


def child(variant: str, points: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="aifactory-scale-search-"))
    try:
        proc = subprocess.run([sys.executable, "-m", "benchmarks.search_scale", "--child", variant,
                               "--points", str(points), "--work", str(work / "shard")],
                              stdout=subprocess.PIPE, check=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    line = next(ln for ln in proc.stdout.decode().splitlines() if ln.startswith(RESULT))
    return dict(json.loads(line[len(RESULT):]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(RESULT + json.dumps(measure(args.child, args.points[0], args.work)), flush=True)
        return
    print(f"{'points':>9} {'variant':<8}{'load s':>8}{'build s':>9}{'p50 ms':>8}{'p99 ms':>8}{'recall@10':>10}"
          f"{'of none':>8}{'RSS MB':>8}{'disk MB':>9}", flush=True)
    for points in args.points:
        base = None
        for variant in args.variants.split(","):
            r = child(variant, points)
            base = r["recall"] if variant == "none" else base
            share = f"{r['recall'] / base:.3f}" if base else "-"
            print(f"{points:>9} {variant:<8}{r['load_s']:>8.0f}{r['build_s']:>9.0f}{r['p50_ms']:>8.2f}"
                  f"{r['p99_ms']:>8.2f}{r['recall']:>10.3f}{share:>8}{r['index_rss_mb']:>8.0f}{r['disk_mb']:>9.0f}",
                  flush=True)


if __name__ == "__main__":
    main()
