"""What a lander pays at start to know which rows the lake holds: every key loaded into
memory (before ingest/key_index.py) against the key index on disk.

    python -m benchmarks.landing_keys --keys 100000 1000000

A table of N rows (64-character hex keys, as the derived ids are) in files of 1,000 rows
is written once; then, each in a child process of its own so that its memory is its own:
- load-all: `Lake.keys`, the set a lander held before;
- index, cold: the first start, which builds the index from every file;
- index, warm: a restart on the same lake, plus one file written since;
and 1,000 lookups of landed and unlanded keys on the warm index. Prints seconds, the
child's peak RSS above an idle child's, and the ratio of warm to load-all.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from ingest.key_index import KeyIndex
from ingest.lake import Lake, TableSpec

SPEC = TableSpec(name="bench_keys", key="key", time_column="at", schema=pa.schema(
    [("key", pa.string()), ("region", pa.string()), ("tenant", pa.string()), ("at", pa.timestamp("us", tz="UTC"))]))
PER_FILE = 1_000
RESULT = "RESULT "


def key(n: int) -> str:
    return f"{n:064x}"


def fill(lake: Lake, n: int, start: int = 0) -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    for first in range(start, start + n, PER_FILE):
        lake.write(SPEC, [{"key": key(i), "region": "eu-central", "tenant": f"t{i % 10}", "at": at}
                          for i in range(first, min(first + PER_FILE, start + n))])


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, root: Path, n: int) -> dict[str, Any]:
    lake = Lake(root)
    idle = peak_mb()
    began = time.perf_counter()
    figures: dict[str, Any] = {}
    if mode == "load-all":
        held = len(lake.keys(SPEC))
    else:
        index = KeyIndex(lake, SPEC)
        index.refresh()
        held = index.count()
        figures["files_read"] = index.files_read
        if mode == "warm":
            probe = [key(i) for i in range(0, 2 * n, max(1, n // 500))][:1000]
            t = time.perf_counter()
            found = index.landed(probe)
            figures["lookup_ms_per_1000"] = (time.perf_counter() - t) * 1000
            figures["found"] = len(found)
    figures.update(mode=mode, seconds=time.perf_counter() - began, keys=held, rss_mb=peak_mb() - idle)
    return figures


def run(mode: str, root: Path, n: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "benchmarks.landing_keys", "--child", mode, "--root", str(root),
                          "--keys", str(n)], stdout=subprocess.PIPE, check=True).stdout.decode()
    return dict(json.loads(next(ln for ln in out.splitlines() if ln.startswith(RESULT))[len(RESULT):]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--child", choices=["load-all", "cold", "warm"], help=argparse.SUPPRESS)
    ap.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(RESULT + json.dumps(child(args.child, args.root, args.keys[0])), flush=True)
        return
    print(f"{'keys':>9} {'start':<9}{'seconds':>9}{'RSS MB':>8}{'files read':>11}  notes", flush=True)
    for n in args.keys:
        root = Path(tempfile.mkdtemp(prefix="aifactory-keys-")) / "lake"
        fill(Lake(root), n)
        base = run("load-all", root, n)
        cold = run("cold", root, n)
        fill(Lake(root), PER_FILE, start=n)  # one file landed since the index last looked
        warm = run("warm", root, n)
        for r in (base, cold, warm):
            note = (f"1,000 lookups {r['lookup_ms_per_1000']:.1f} ms ({r['found']} landed)"
                    if "lookup_ms_per_1000" in r else "")
            print(f"{n:>9} {r['mode']:<9}{r['seconds']:>9.2f}{r['rss_mb']:>8.0f}{r.get('files_read', '-'):>11}  {note}",
                  flush=True)
        print(f"{n:>9} warm / load-all: {warm['seconds'] / base['seconds']:.3f}x time, "
              f"{warm['rss_mb']:.0f} / {base['rss_mb']:.0f} MB", flush=True)


if __name__ == "__main__":
    main()
