"""Cluster mode measured: one `aifactory run` over generated documents, through Kafka
brokers named by KAFKA_BOOTSTRAP_SERVERS, on three setups:

    memory   one Tansu broker, memory storage (what the embedded broker is)
    s3       two Tansu brokers sharing one durable log on Tansu's s3:// storage, against
             an S3-protocol server (moto's), the run bootstrapping from both
    s3+lake  the same, and the lake on the same S3 server (AIFACTORY_LAKE_URL)

    python -m benchmarks.cluster --docs 300 --kinds memory,s3,s3+lake

Each run is a fresh data directory and a fresh log; the CLI runs as a user would run it.
Prints docs/s from file to searchable and the seconds of each stage (scan, stream: the
transform workers and the landers through the broker, index: embedding and upserts), and
the ratio of each stage on the durable log to the memory log.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from benchmarks.corpus import generate
from ingest.broker import broker_binary, free_port
from tests.fixtures.procs import serving
from tests.fixtures.s3 import CREDENTIALS, make_bucket, s3_server


@contextlib.contextmanager
def brokers(kind: str) -> Iterator[tuple[str, dict[str, str]]]:
    """Yields KAFKA_BOOTSTRAP_SERVERS for a fresh log of `kind`, and the lake's settings."""
    cluster = f"bench-{uuid.uuid4().hex[:8]}"

    def broker(port: int, storage: str, env: dict[str, str] | None = None) -> contextlib.AbstractContextManager[str]:
        url = f"tcp://127.0.0.1:{port}"
        return serving([broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
                        "--cluster-id", cluster, "--storage-engine", storage], port, env=env)

    if kind == "memory":
        with broker(free_port(), "memory://tansu/") as at:
            yield at, {}
        return
    with s3_server() as endpoint:
        bucket = f"log-{uuid.uuid4().hex[:8]}"
        make_bucket(endpoint, bucket)
        env = {**CREDENTIALS, "AWS_ENDPOINT": endpoint, "AWS_ALLOW_HTTP": "true"}
        lake = {}
        if kind.endswith("+lake"):
            make_bucket(endpoint, f"lake-{bucket}")
            lake = {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint, "AIFACTORY_LAKE_URL": f"s3://lake-{bucket}/factory"}
        with broker(free_port(), f"s3://{bucket}/", env) as a, broker(free_port(), f"s3://{bucket}/", env) as b:
            yield f"{a},{b}", lake


def run(kind: str, docs: Path, home: Path) -> dict[str, float]:
    with brokers(kind) as (bootstrap, lake):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIFACTORY_", "KAFKA_", "QDRANT_"))}
        env |= {"AIFACTORY_HOME": str(home), "KAFKA_BOOTSTRAP_SERVERS": bootstrap, **lake}
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "aifactory.cli", "run", str(docs), "--tenant", "bench",
                               "--jurisdiction", "EU", "--json"], env=env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, check=False)
        wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{kind}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    report = json.loads(proc.stdout)["run"]
    return {"wall": wall, "docs": report["published"], "chunks": report["chunks_landed"], **report["seconds"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=300)
    ap.add_argument("--kinds", default="memory,s3")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="aifactory-cluster-bench-"))
    docs = generate(root / "corpus", args.docs)["bench-eu"]  # one tenant's half: one jurisdiction
    results = {kind: run(kind, docs, root / f"home-{kind}") for kind in args.kinds.split(",")}
    print(f"{args.docs // 2} generated documents (one tenant), load {os.getloadavg()[0]:.1f}")
    print(f"{'setup':<8} {'docs':>6} {'chunks':>7} {'docs/s':>7} {'scan':>6} {'stream':>7} {'index':>7} {'total':>7}")
    for kind, r in results.items():
        print(f"{kind:<8} {r['docs']:>6.0f} {r['chunks']:>7.0f} {r['docs'] / r['total']:>7.1f} {r['scan']:>6.1f} "
              f"{r['stream']:>7.1f} {r['index']:>7.1f} {r['total']:>7.1f}")
    if {"memory", "s3"} <= set(results):
        m, s = results["memory"], results["s3"]
        print(f"durable log / memory log: stream x{s['stream'] / m['stream']:.2f}, "
              f"total x{s['total'] / m['total']:.2f}")
    if {"s3", "s3+lake"} <= set(results):
        s, lk = results["s3"], results["s3+lake"]
        print(f"lake on S3 / lake on disk (both on the durable log): stream x{lk['stream'] / s['stream']:.2f}, "
              f"index x{lk['index'] / s['index']:.2f}, total x{lk['total'] / s['total']:.2f}")


if __name__ == "__main__":
    main()
