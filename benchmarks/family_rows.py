"""A one-document change's family read at corpus scale: the changed tenant's chunk lake as
the 100,000-document build left it (one small file per lander flush), read the way it was
before the family index (the id, version and key columns of every file of the tenant, in
DuckDB) against `transforms.family_index` (its SQLite file brought up to date with the
one new file, then asked).

    python -m benchmarks.family_rows [--files 4000 --rows 75]

Prints seconds for each, the ratio, the index's one-time build, and the machine's load.
The rows are generated (no embedding): what is measured reads only their small columns.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchmarks.incremental import fmt_load
from governance.contracts import ChunkRecord, LogPosition, content_hash, utcnow
from ingest import duck
from ingest.lake import Lake
from transforms import chunk_table
from transforms.dedup import reader_key
from transforms.family_index import FamilyIndex
from transforms.tables import CHUNKS, chunk_row

FOOTER = "This document is internal to Helio Robotics; do not forward it"
# The read it replaced (chunk_table.family_rows before the family index), over every file of the tenant.
BEFORE_SQL = """
CREATE TEMP TABLE meta AS
SELECT row_id, document_id, version, op, coalesce(reader_key, '') AS reader_key, __filename AS file,
       version = max(version) OVER (PARTITION BY document_id) AND op = 'upsert' AS current
FROM columns
"""


def chunk(doc: str, version: int, no: int, text: str) -> ChunkRecord:
    event_id = f"ev-{doc}-{version}"
    at = LogPosition(epoch="e", topic="raw", partition=0, offset=0)
    return ChunkRecord(row_id=f"{event_id}-{no}", chunk_id=f"acme:{doc}:{content_hash(text)}:{no}", op="upsert",
                       event_id=event_id, tenant="acme", jurisdiction="EU", region="eu-central",
                       document_id=f"acme:{doc}", version=version, chunk_no=no, chunk_count=3, text=text,
                       content_hash=content_hash(text), title=doc, source_uri=f"file:///src/{doc}",
                       event_time=utcnow(), raw=at, chunker="bench-1", reader_key=reader_key(text))


def flush(lake: Lake, n: int, rows: int, version: int = 1) -> None:
    """One lander flush: `rows` chunks of a few documents, each with a footer its file's documents share."""
    batch = []
    for i in range(rows):
        doc, no = f"f{n}-d{i // 3}.md", i % 3
        text = f"{FOOTER} ({n})" if no == 2 else f"file {n} document {i // 3} part {no} version {version}"
        at = LogPosition(epoch="e", topic="chunks", partition=0, offset=n * rows + i)
        batch.append(chunk_row(chunk(doc, version, no, text), at))
    lake.write(CHUNKS, batch)


def before(lake: Lake, documents: list[str]) -> int:
    files = lake.files(CHUNKS)
    with duck.connect() as con:
        con.register("columns", lake.dataset_of(files, CHUNKS.schema).to_table(
            columns=["row_id", "document_id", "version", "op", "reader_key", "__filename"]))
        con.execute(BEFORE_SQL)
        keys = [k for (k,) in con.execute("SELECT DISTINCT reader_key FROM meta WHERE list_contains(?, document_id)",
                                          [documents]).fetchall()]
        return len(con.execute("SELECT row_id FROM meta WHERE current AND (list_contains($1, document_id) OR "
                               "list_contains($2, reader_key))", [documents, keys]).fetchall())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=4000)
    ap.add_argument("--rows", type=int, default=75)
    args = ap.parse_args()
    print(f"{os.cpu_count()} cores, load {fmt_load(os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory(prefix="aifactory-families-") as tmp:
        lake = Lake(Path(tmp) / "lake")
        for n in range(args.files):
            flush(lake, n, args.rows)
        print(f"{args.files:,} files of {args.rows} chunk rows ({args.files * args.rows:,} rows)", flush=True)
        started = time.perf_counter()
        FamilyIndex(lake).refresh()
        print(f"family index built once: {time.perf_counter() - started:.2f} s", flush=True)
        # The change: one document edited, in a file of its own.
        flush(lake, 0, 3, version=2)
        changed = ["acme:f0-d0.md"]
        started = time.perf_counter()
        members = before(lake, changed)
        b = time.perf_counter() - started
        started = time.perf_counter()
        families = chunk_table.family_rows(lake, {"acme"}, changed)
        a = time.perf_counter() - started
        assert families is not None
        assert len(families.rows) == members, (len(families.rows), members)
        print(f"one-document change, family read ({members:,} rows in the family, its footer shared): "
              f"every file's columns {b:.3f} s, family index {a:.3f} s ({a / b:.3f}x)")
    print(f"load after: {fmt_load(os.getloadavg())}")


if __name__ == "__main__":
    main()
