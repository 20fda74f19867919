"""Incremental cost: a full run over a generated corpus, then a run after 1% of
the documents changed, on the embedded default.

    python -m benchmarks.incremental --docs 1000

Prints both times, what the second run did, and the ratio (the target is 3%).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from aifactory import pipeline
from aifactory.factory import Factory
from aifactory.settings import FactorySettings
from benchmarks.corpus import generate
from ingest.sources import Source


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=1000)
    ap.add_argument("--changed", type=float, default=0.01)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="aifactory-incr-"))
    folders = generate(work / "corpus", args.docs)
    sources = [Source(folder, tenant, "EU" if tenant.endswith("eu") else "US") for tenant, folder in folders.items()]
    factory = Factory(FactorySettings(home=work / "home", stage_timeout_s=3600))
    factory.embedder  # noqa: B018 - load the model outside both timings

    started = time.perf_counter()
    full = pipeline.run(factory, sources)
    full_s = time.perf_counter() - started

    files = sorted(p for f in folders.values() for p in f.rglob("*.md"))
    step = max(1, int(len(files) / max(1, args.docs * args.changed)))
    edited = files[::step][: max(1, int(args.docs * args.changed))]
    for path in edited:
        path.write_text(path.read_text() + "\n\nAddendum: this note was revised after the audit.\n")
    started = time.perf_counter()
    incr = pipeline.run(factory, sources)
    incr_s = time.perf_counter() - started

    print(f"full run:        {full_s:7.1f} s  ({full.published} events, "
          f"{full.index.upserted if full.index else 0} points)")
    print(f"after {len(edited)} edits: {incr_s:7.1f} s  ({incr.published} events, "
          f"{incr.index.upserted if incr.index else 0} embedded, {incr.index.repointed if incr.index else 0} "
          f"repointed); stages {({k: round(v, 1) for k, v in incr.seconds.items()})}")
    print(f"ratio incremental / full: {incr_s / full_s:.1%} (target <= 3%)")
    factory.close()


if __name__ == "__main__":
    main()
