"""The scan cache at corpus scale: opening it and saving it after a one-file edit, for
the SQLite cache (`ingest.scancache`) against the whole-file JSON cache it replaced
(every entry parsed on open, every entry written again on a save).

    python -m benchmarks.scan_cache [--entries 100000]

Prints seconds for each and the ratio, and the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from benchmarks.incremental import fmt_load
from ingest.scancache import FileEntry, ScanCache


def entry(i: int, version: int = 0) -> FileEntry:
    return FileEntry(f"notes/f{i}.md", (100 + version, i, i, i), True, "ab" * 32,
                     ((f"bench:notes/f{i}.md", f"{version:064x}"),))


def json_cache(folder: Path, entries: dict[str, FileEntry]) -> tuple[float, float]:
    """The replaced format: one JSON document, read whole and written whole."""
    path = folder / "scan.json"
    path.write_text(json.dumps({"files": {t: e.to_json() for t, e in entries.items()}}))
    started = time.perf_counter()
    loaded = {t: FileEntry(rid, tuple(st), still, sha, tuple(tuple(d) for d in docs))  # type: ignore[arg-type]
              for t, (rid, st, still, sha, docs) in json.loads(path.read_text())["files"].items()}
    opened = time.perf_counter() - started
    loaded["t5"] = entry(5, 1)
    started = time.perf_counter()
    with path.open("w") as fh:
        json.dump({"files": {t: e.to_json() for t, e in sorted(loaded.items())}}, fh, separators=(",", ":"))
        fh.flush()
        os.fsync(fh.fileno())
    return opened, time.perf_counter() - started


def sqlite_cache(folder: Path, entries: dict[str, FileEntry]) -> tuple[float, float]:
    cache = ScanCache.open(folder, root_uri="file:///bench", tenant="bench", context="c")
    for token, e in entries.items():
        cache.put(token, e)
    cache.save()
    started = time.perf_counter()
    cache = ScanCache.open(folder, root_uri="file:///bench", tenant="bench", context="c")
    opened = time.perf_counter() - started
    assert len(cache.entries) == len(entries)
    cache.put("t5", entry(5, 1))
    started = time.perf_counter()
    cache.save()
    return opened, time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=100_000)
    args = ap.parse_args()
    print(f"{os.cpu_count()} cores, load {fmt_load(os.getloadavg())}", flush=True)
    entries = {f"t{i}": entry(i) for i in range(args.entries)}
    with tempfile.TemporaryDirectory(prefix="aifactory-scancache-") as tmp:
        (Path(tmp) / "json").mkdir()
        before = json_cache(Path(tmp) / "json", entries)
        after = sqlite_cache(Path(tmp) / "sqlite", entries)
    for what, b, a in (("open", before[0], after[0]), ("save after a one-file edit", before[1], after[1]),
                       ("both", sum(before), sum(after))):
        print(f"{args.entries:,} entries, {what}: JSON {b:.3f} s, SQLite {a:.3f} s ({a / b:.2f}x)")
    print(f"load after: {fmt_load(os.getloadavg())}")


if __name__ == "__main__":
    main()
