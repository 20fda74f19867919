"""End-to-end benchmark: generated files -> searchable, on the embedded default.

    python -m benchmarks.e2e --docs 2000

Prints documents per second from file to searchable, the time of each stage,
chunks per second through embedding, and peak memory (this process, and the
broker and faust worker together). Later issues set targets on these figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from benchmarks.corpus import generate
from ingest.sources import Source
from pipeline import runner
from pipeline.factory import Factory
from pipeline.settings import FactorySettings
from pipeline.status import status
from vectorstore.search import search


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--bytes", type=int, default=2048, help="target size of one document")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="aifactory-bench-"))
    folders = generate(work / "corpus", args.docs, target_bytes=args.bytes)
    corpus_bytes = sum(f.stat().st_size for d in folders.values() for f in d.rglob("*") if f.is_file())
    factory = Factory(FactorySettings(home=work / "home", stage_timeout_s=3600))
    t = time.perf_counter()
    factory.embedder  # noqa: B018 - load the model outside the timed run, as a service would
    load_s = time.perf_counter() - t

    sources = [Source(folder, tenant, "EU" if tenant.endswith("eu") else "US") for tenant, folder in folders.items()]
    report = runner.run(factory, sources, progress=True)
    total = report.seconds["total"]
    counts = status(factory)["totals"]
    hits = search(factory.index, factory.embedder, "battery charging voltage", tenant="bench-eu", top_k=3)
    chunks = report.index.upserted if report.index else 0
    embed_s = report.index.embed_seconds if report.index else 0.0
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    figures = {
        "documents": counts["documents"], "corpus_mb": round(corpus_bytes / 1e6, 2), "chunks": chunks,
        "points": counts["points"], "model_load_s": round(load_s, 1),
        "seconds": {k: round(v, 1) for k, v in report.seconds.items()},
        "docs_per_s_file_to_searchable": round(counts["documents"] / total, 1),
        "chunks_per_s_embedding": round(chunks / embed_s, 1) if embed_s else None,
        "docs_per_s_to_lake": round(counts["documents"] / (report.seconds["scan"] + report.seconds["stream"]), 1),
        "peak_rss_mb_main": round(self_mb), "peak_rss_mb_largest_child": round(child_mb),
        "search_ok": bool(hits),
    }
    print(json.dumps(figures, indent=2))
    factory.close()


if __name__ == "__main__":
    main()
