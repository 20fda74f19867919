"""The cost of encryption at rest: the same corpus built end to end, and the same searches,
with AIFACTORY_ENCRYPTION off and on (issue target: under 10% on both).

    python -m benchmarks.encryption --docs 500 --queries 200

Each side runs in a home of its own with the model loaded before the clock starts; the
sides alternate for `--rounds` and the best figure of each side is kept. The
build is file -> searchable (`aifactory run`); search is the API's path (`search()`,
hybrid, top 5) from one process, warm, p50 and p99. Prints both and the ratio on/off.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.corpus import generate
from governance.sealing import Sealer
from ingest.sources import Source
from pipeline import runner
from pipeline.factory import Factory
from pipeline.settings import FactorySettings
from vectorstore.embedder import load_embedder
from vectorstore.search import search

QUESTIONS = ("battery charging voltage", "warranty claim process", "firmware update steps", "safety notice",
             "maintenance schedule", "error code reset", "shipping damage", "calibration of sensors")


def side(work: Path, folders: dict[str, Path], encrypted: bool, queries: int, round_no: int) -> dict[str, float]:
    settings = FactorySettings(home=work / f"{'on' if encrypted else 'off'}-{round_no}", stage_timeout_s=3600,
                               encryption=encrypted, kms_dir=work / "kms")
    factory = Factory(settings, embedder=load_embedder())
    factory.embedder.embed_query("warm up")
    sources = [Source(f, t, "EU" if t.endswith("eu") else "US") for t, f in folders.items()]
    t = time.perf_counter()
    report = runner.run(factory, sources)
    build = time.perf_counter() - t
    tenants = sorted(folders)
    for q in QUESTIONS:  # warm the index and the keys
        search(factory.index, factory.embedder, q, tenant=tenants[0], top_k=5)
    took = []
    for n in range(queries):
        t = time.perf_counter()
        hits = search(factory.index, factory.embedder, QUESTIONS[n % len(QUESTIONS)], tenant=tenants[n % len(tenants)],
                      top_k=5)
        took.append((time.perf_counter() - t) * 1000)
        assert hits and hits[0].text and not hits[0].text.startswith("aifx1:")
    factory.close()
    took.sort()
    return {"build_s": round(build, 2), "stream_s": round(report.seconds["stream"], 2),
            "index_s": round(report.seconds["index"], 2), "search_p50_ms": round(statistics.median(took), 2),
            "search_p99_ms": round(took[int(len(took) * 0.99) - 1], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=500)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=2, help="off and on alternate this many times; the best of each")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="aifactory-enc-"))
    print(f"cpu: {platform.processor() or platform.machine()}, cores {os.cpu_count()}, "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    folders = generate(work / "corpus", args.docs)
    runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for n in range(args.rounds):  # alternated, so neither side always runs on a warmer machine
        for encrypted in (False, True):
            runs[encrypted].append(side(work, folders, encrypted, args.queries, n))
            print(("on " if encrypted else "off"), runs[encrypted][-1], flush=True)
    off, on = ({k: min(r[k] for r in runs[e]) for k in runs[e][0]} for e in (False, True))
    ratio = {k: round(on[k] / off[k], 3) for k in off if off[k]}
    print(json.dumps({"docs": args.docs, "queries": args.queries, "off": off, "on": on, "on_over_off": ratio,
                      "per_value_us": per_value(work)}, indent=2))


def per_value(work: Path, n: int = 5000) -> dict[str, float]:
    """What sealing and opening one chunk-sized value (1 KB) costs, keys cached."""
    sealer = Sealer.at(work / "micro" / "data-keys", work / "micro" / "kms")
    text = ("The north depot keeps its forklift keys in cabinet seven. " * 18)[:1024]
    t = time.perf_counter()
    sealed = [sealer.seal("bench", text) for _ in range(n)]
    seal_us = (time.perf_counter() - t) / n * 1e6
    t = time.perf_counter()
    for v in sealed:
        sealer.open("bench", v)
    return {"seal_1kb": round(seal_us, 1), "open_1kb": round((time.perf_counter() - t) / n * 1e6, 1)}


if __name__ == "__main__":
    main()
