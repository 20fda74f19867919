"""What a lake commit costs, and whether concurrent writers need a table format:
the factory's lake (one immutable, content-named Parquet object per batch and partition)
on a folder and on S3-protocol storage, beside a Delta table (deltalake, the Rust
delta-rs) on the same storage, whose commits go through a transaction log.

    pip install deltalake==1.6.6      # the `formats` extra; used here only
    python -m benchmarks.lake_commit --batches 20 --rows 200 --writers 4

Each system lands the same raw-lake rows: `--batches` commits one after the other, then
`--writers` threads committing `--batches // --writers` each at once, then every row is
read back. Prints ms per commit (median), commits/s with concurrent writers, rows read back
against rows written (a lost or doubled commit shows here), and the ratio to the factory's
lake on the same storage. The S3 server is moto's (tests/fixtures/s3.py), on loopback.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pyarrow as pa

from governance.contracts import DocumentEvent, LogPosition
from ingest.lake import Lake
from ingest.tables import RAW, raw_row
from tests.fixtures.s3 import CREDENTIALS, make_bucket, s3_server


def batch(writer: int, n: int, rows: int) -> list[dict[str, object]]:
    out = []
    for i in range(rows):
        event = DocumentEvent.new(op="upsert", tenant="bench", document_id=f"bench:w{writer}-b{n}-{i}.md",
                                  version=1, text="lorem ipsum " * 40, jurisdiction="EU", region="eu-central",
                                  source_uri="", source_root="")
        out.append(raw_row(event, LogPosition(epoch="e", topic="raw", partition=writer, offset=n * rows + i)))
    return out


def measure(commit: Callable[[int, int], None], count: Callable[[], int], *, batches: int,
            writers: int) -> dict[str, float]:
    took = []
    for n in range(batches):
        start = time.perf_counter()
        commit(0, n)
        took.append(time.perf_counter() - start)
    errors: list[BaseException] = []

    def write(w: int) -> None:
        try:
            for n in range(batches // writers):
                commit(w + 1, n)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return {"ms_per_commit": 1000 * statistics.median(took),
            "concurrent_commits_per_s": writers * (batches // writers) / wall,
            "failed_commits": len(errors), "rows_read": count()}


def commit_to(lake: Lake, lists: dict[tuple[int, int], list[dict[str, object]]], w: int, n: int) -> None:
    lake.write(RAW, lists[(w, n)])


def rows_in(lake: Lake) -> int:
    return int(lake.dataset(RAW).count_rows())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--writers", type=int, default=4)
    args = parser.parse_args()
    from deltalake import DeltaTable, write_deltalake

    tables = {(w, n): pa.Table.from_pylist(batch(w, n, args.rows), schema=RAW.schema)
              for w in range(args.writers + 1) for n in range(args.batches)}
    lists = {k: t.to_pylist() for k, t in tables.items()}  # the lake takes rows, Delta an Arrow table
    written = args.rows * (args.batches + args.writers * (args.batches // args.writers))
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp, s3_server() as endpoint:
        os.environ.update({**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint})
        bucket = f"lake-{uuid.uuid4().hex[:8]}"
        make_bucket(endpoint, bucket)
        for name, lake in (("factory lake, folder", Lake(Path(tmp) / "lake")),
                           ("factory lake, S3", Lake(Path(tmp) / "unused", url=f"s3://{bucket}/factory"))):
            results[name] = measure(partial(commit_to, lake, lists), partial(rows_in, lake),
                                    batches=args.batches, writers=args.writers)
        options = {"AWS_ENDPOINT_URL": endpoint, "AWS_ALLOW_HTTP": "true", "AWS_REGION": "us-east-1",
                   "AWS_ACCESS_KEY_ID": CREDENTIALS["AWS_ACCESS_KEY_ID"],
                   "AWS_SECRET_ACCESS_KEY": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                   "conditional_put": "etag"}  # safe concurrent commits without a lock table
        uri = f"s3://{bucket}/delta/raw"
        results["Delta (deltalake), S3"] = measure(
            lambda w, n: write_deltalake(uri, tables[(w, n)], mode="append", partition_by=["region", "tenant"],
                                         storage_options=options),
            lambda: DeltaTable(uri, storage_options=options).to_pyarrow_dataset().count_rows(),
            batches=args.batches, writers=args.writers)
    base = results["factory lake, S3"]
    print(f"{args.batches} sequential commits of {args.rows} rows, then {args.writers} writers at once; "
          f"{written} rows written; load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'system':24} {'ms/commit':>10} {'x S3 lake':>10} {'conc. commits/s':>16} {'failed':>7} {'rows read':>10}")
    for name, r in results.items():
        print(f"{name:24} {r['ms_per_commit']:10.1f} {r['ms_per_commit'] / base['ms_per_commit']:10.2f} "
              f"{r['concurrent_commits_per_s']:16.1f} {int(r['failed_commits']):7d} {int(r['rows_read']):10d}")


if __name__ == "__main__":
    main()
