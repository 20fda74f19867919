"""The one-shot scan's plan on a kept scale home, alone: the walk with the scan cache,
the raw lake's latest versions and the query for events without an outcome.

    python -m benchmarks.scale --docs 10000          # keeps <tmp>/aifactory-scale-*/docs-10000
    python -m benchmarks.scan_plan <tmp>/aifactory-scale-XXXX/docs-10000 [--rounds 3]

Prints the seconds of each round (the first in a fresh process pays the imports and the
first lake reads), and how many files the cache counted unchanged without parsing. Nothing
is published: the plan only reads (it may rewrite the scan cache).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from benchmarks.incremental import fmt_load


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work", type=Path, help="a folder benchmarks.scale kept: corpus/ and home/")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from ingest.sources import Source
    from pipeline import scan
    from pipeline.factory import Factory
    from pipeline.settings import FactorySettings

    folders = {p.name: p for p in sorted((args.work / "corpus").iterdir())}
    sources = [Source(f, t, "EU" if t.endswith("eu") else "US") for t, f in folders.items()]
    factory = Factory(FactorySettings(home=args.work / "home"))
    print(f"{os.cpu_count()} cores, load {fmt_load(os.getloadavg())}")
    for n in range(args.rounds):
        started = time.perf_counter()
        batch = scan.plan(factory, sources, "scan-plan")
        files = sum(r.files for r in batch.ingest)
        print(f"round {n + 1}: {time.perf_counter() - started:.2f} s, {files} files, "
              f"{sum(r.cached for r in batch.ingest)} unchanged from the cache, {len(batch.events)} events, "
              f"{len(batch.pending)} pending", flush=True)


if __name__ == "__main__":
    main()
