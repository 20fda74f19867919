"""How cost grows with the corpus: a full build, then one edited, one added and one
deleted document, at each corpus size, on the embedded default.

    python -m benchmarks.scale --docs 1000 10000 [100000]

Each step runs in a process of its own (as `aifactory run` would), so its peak RSS is
its own; the broker is a child of that process, and its peak is reported beside. A
step's time is the run's (the model is loaded first, outside it). Work is what the run
touched: events published, chunk rows the index sync compared, point digests it read
from the index, texts it embedded. The target (issue 24): a one-document change costs
the same at the largest size as at the smallest (within 1.5x), and a change stays at or
under 3% of a full build at 10k documents. Prints a table and the slope of each column
(the ratio between the largest and the smallest size).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.corpus import generate
from benchmarks.incremental import fmt_load

STEPS = ("full", "edit", "add", "delete")
TARGET_SLOPE = 1.5
TARGET_SHARE = 0.03


def folder_bytes(path: Path) -> int:
    """Bytes on disk (blocks), not file sizes: the index preallocates sparse files."""
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def step(work: Path, name: str) -> dict[str, Any]:
    """One step in this process: change the corpus as `name` says, then one one-shot run."""
    from ingest.sources import Source
    from pipeline import runner
    from pipeline.factory import Factory
    from pipeline.settings import FactorySettings

    folders = {p.name: p for p in sorted((work / "corpus").iterdir())}
    sources = [Source(folder, tenant, "EU" if tenant.endswith("eu") else "US") for tenant, folder in folders.items()]
    files = sorted(folders["bench-eu"].rglob("*.md"))
    if name == "edit":
        files[len(files) // 2].write_text(files[len(files) // 2].read_text() + "\n\nRevised after the audit.\n")
    elif name == "add":
        n = len(list(folders["bench-eu"].glob("added-note*.md")))  # a new file each time: reruns add too
        (folders["bench-eu"] / f"added-note{n or ''}.md").write_text(
            f"# Added note {n}\n\nA new pallet policy for aisle {n + 9}.\n")
    elif name == "delete":
        files[len(files) // 3].unlink()
    factory = Factory(FactorySettings(home=work / "home", stage_timeout_s=7200))
    factory.embedder  # noqa: B018 - the model loads outside the timing, as in a running service
    started = time.perf_counter()
    report = runner.run(factory, sources)
    seconds = time.perf_counter() - started
    factory.close()
    sync = report.index
    return {"step": name, "seconds": round(seconds, 2), "stages": {k: round(v, 2) for k, v in report.seconds.items()},
            "published": report.published, "embedded": sync.upserted if sync else 0,
            "planned": sync.planned if sync else 0, "digests_read": sync.digests_read if sync else 0,
            "deleted": sync.deleted if sync else 0,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            "children_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024}


def measure(docs: int, root: Path) -> list[dict[str, Any]]:
    work = root / f"docs-{docs}"
    generate(work / "corpus", docs)
    rows = []
    for name in STEPS:
        out = subprocess.run([sys.executable, "-m", "benchmarks.scale", "--step", name, "--work", str(work)],
                             capture_output=True, text=True, check=False)
        if out.returncode:
            raise RuntimeError(f"{name} at {docs} documents failed:\n{out.stderr[-3000:]}")
        row = json.loads(out.stdout.strip().splitlines()[-1])
        if name == "full":
            row["lake_mb"] = round(folder_bytes(work / "home" / "lake") / 2**20, 1)
            row["index_mb"] = round(folder_bytes(work / "home" / "index") / 2**20, 1)
        rows.append({"docs": docs, **row})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'docs':>7} {'step':<7} {'seconds':>8} {'share':>6} {'published':>9} {'embedded':>8} "
            f"{'planned':>8} {'digests':>8} {'RSS MB':>7} {'broker':>7}  stages")
    lines = [head]
    full = {r["docs"]: r["seconds"] for r in rows if r["step"] == "full"}
    for r in rows:
        share = "" if r["step"] == "full" else f"{r['seconds'] / full[r['docs']]:.1%}"
        lines.append(f"{r['docs']:>7} {r['step']:<7} {r['seconds']:>8.2f} {share:>6} {r['published']:>9} "
                     f"{r['embedded']:>8} {r['planned']:>8} {r['digests_read']:>8} {r['rss_mb']:>7} "
                     f"{r['children_rss_mb']:>7}  " + ", ".join(f"{k} {v}" for k, v in r["stages"].items()))
    for r in rows:
        if r["step"] == "full":
            lines.append(f"{r['docs']:>7} documents: lake {r['lake_mb']} MB, index {r['index_mb']} MB")
    return "\n".join(lines)


def slopes(rows: list[dict[str, Any]]) -> str:
    sizes = sorted({r["docs"] for r in rows})
    if len(sizes) < 2:
        return "one size: no slope"
    small, large = sizes[0], sizes[-1]
    out = [f"slope = value at {large:,} / value at {small:,} documents ({large / small:g}x the corpus); "
           f"target for a one-document change: <= {TARGET_SLOPE}"]
    for name in STEPS:
        a = next(r for r in rows if r["docs"] == small and r["step"] == name)
        b = next(r for r in rows if r["docs"] == large and r["step"] == name)
        cols = []
        for key in ("seconds", "planned", "digests_read", "rss_mb"):
            cols.append(f"{key} {b[key] / a[key]:.2f}x" if a[key] else f"{key} {a[key]}->{b[key]}")
        out.append(f"  {name:<7} " + ", ".join(cols))
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.step:
        print(json.dumps(step(args.work, args.step)))
        return
    print(f"{os.cpu_count()} cores, load {fmt_load(os.getloadavg())}", flush=True)
    root = Path(tempfile.mkdtemp(prefix="aifactory-scale-"))
    rows = [row for docs in args.docs for row in measure(docs, root)]
    print(table(rows))
    print(slopes(rows))
    for docs in args.docs:
        worst = max(r["seconds"] for r in rows if r["docs"] == docs and r["step"] != "full")
        full = next(r["seconds"] for r in rows if r["docs"] == docs and r["step"] == "full")
        print(f"{docs:>7} documents: the costliest one-document change is {worst / full:.1%} of the full build "
              f"(target <= {TARGET_SHARE:.0%})")
    print(f"load after: {fmt_load(os.getloadavg())}")


if __name__ == "__main__":
    main()
