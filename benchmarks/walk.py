"""The scan's walk of a source folder: a pathlib walk (os.walk, a path object and two
stats per file, the walk before this change) against `ingest.sources.walk` (one scandir
per folder, one stat per file, no path object per file), on generated empty files.

    python -m benchmarks.walk [--files 100000] [--per-folder 1000] [--rounds 3]

Prints the best of each, the ratio, and the machine's load.
"""

from __future__ import annotations

import argparse
import os
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.incremental import fmt_load
from ingest.sources import walk


def pathlib_walk(root: Path) -> list[str]:
    """What the scan did before: os.walk, then per file a Path, is_symlink (lstat) and stat."""
    out = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(folder) / name
            if not path.is_symlink() and stat.S_ISREG(path.stat().st_mode):
                out.append(path.relative_to(root).as_posix())
    return out


def best(fn: Callable[[], list[str]], rounds: int) -> tuple[float, int]:
    times, n = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        n = len(fn())
        times.append(time.perf_counter() - started)
    return min(times), n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--per-folder", type=int, default=1_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(f"{os.cpu_count()} cores, load {fmt_load(os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory(prefix="aifactory-walk-") as tmp:
        root = Path(tmp)
        for i in range(args.files):
            folder = root / f"d{i // args.per_folder:05d}"
            if i % args.per_folder == 0:
                folder.mkdir()
            (folder / f"f{i:07d}.md").touch()
        before, n_before = best(lambda: pathlib_walk(root), args.rounds)
        after, n_after = best(lambda: [rel for _, rel, problem, _ in walk(root) if problem is None], args.rounds)
    assert n_before == n_after == args.files, (n_before, n_after)
    print(f"{args.files:,} files: pathlib walk {before:.3f} s, scandir walk {after:.3f} s "
          f"({after / before:.2f}x, {before / after:.1f} times faster)")
    print(f"load after: {fmt_load(os.getloadavg())}")


if __name__ == "__main__":
    main()
