"""Time and peak memory of each hostile or odd input, at the default limits.

    python -m benchmarks.hostile [--only NAME ...]
    python -m benchmarks.hostile --big-archive /tmp/zipcase/docs    the open 190 MB-of-text case

The cases come from tests/fixtures/hostile.py, generated around the default limits
(20 MB files, 5 M characters, 200 k-character lines, ...). Each is written to a file
and parsed in a fresh process, as the scan would; the table gives the outcome, the
seconds and the process's peak RSS, beside a baseline process that parses a one-line
file. The claim checked: memory stays bounded by the limits (a few times the largest
input the limits allow), whatever the input does.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ingest.limits import Limits
from tests.fixtures.hostile import cases

CHILD = """
import json, sys, time
from pathlib import Path
from ingest.errors import SourceError
from ingest.limits import Limits
from ingest.parsers import parse
path = Path(sys.argv[1])
started = time.perf_counter()
try:
    docs = parse(path.name, path.read_bytes(), limits=Limits())
    outcome = f"{len(docs)} document(s)"
except SourceError as exc:
    outcome = "refused: " + str(exc).split(": ", 1)[-1][:60]
# VmHWM, not ru_maxrss: the latter is inherited from the parent across fork and exec.
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"outcome": outcome, "seconds": time.perf_counter() - started, "rss_mb": hwm / 1024}))
"""


def measure(path: Path) -> dict[str, object]:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, timeout=600,
                          env={k: v for k, v in os.environ.items() if not k.startswith("AIFACTORY_")})
    if proc.returncode != 0:
        return {"outcome": f"CRASHED: {proc.stderr.strip().splitlines()[-1][:60]}", "seconds": 0.0, "rss_mb": 0.0}
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def big_text_zip(path: Path, entries: int = 40, entry_chars: int = 4_750_000) -> int:
    """A zip within every default limit that holds ~190 MB of text (issue 19's open case):
    random lines, each 2 KB block repeated 5 times, so deflate reaches ~12x, under 20 MB."""
    rng = random.Random(1)
    words = [f"w{i}x" for i in range(5_000)]

    def block() -> str:
        lines, size = [], 0
        while size < 2_000:
            line = " ".join(rng.choice(words) for _ in range(12)) + "\n"
            lines.append(line)
            size += len(line)
        return "".join(lines)

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for e in range(entries):
            parts, size = [], 0
            while size < entry_chars:
                parts.append(block() * 5)
                size += len(parts[-1])
            zf.writestr(f"part{e}.txt", "".join(parts)[:entry_chars])
    return path.stat().st_size


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="*", help="case names to run (default: all)")
    p.add_argument("--big-archive", metavar="DIR",
                   help="write the 190 MB-of-text zip into DIR, parse it here, and print how to ingest it "
                        "(`/usr/bin/time -v aifactory ingest DIR --tenant t1 --jurisdiction EU` from its parent)")
    args = p.parse_args()
    if args.big_archive:
        folder = Path(args.big_archive)
        folder.mkdir(parents=True, exist_ok=True)
        size = big_text_zip(folder / "big-text.zip")
        r = measure(folder / "big-text.zip")
        print(f"{folder / 'big-text.zip'}: {size / 1e6:.1f} MB; parsing: {r['seconds']:.1f} s, peak RSS "
              f"{r['rss_mb']:.0f} MB, {r['outcome']}")
        return
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; limits: {Limits().model_dump()}")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "baseline.md"
        base.write_text("# one line\n")
        floor = measure(base)
        print(f"{'case':<28}{'input MB':>9}{'seconds':>9}{'peak RSS MB':>12}{'over base':>10}  outcome")
        print(f"{'(baseline)':<28}{0:>9.2f}{floor['seconds']:>9.3f}{floor['rss_mb']:>12.0f}{0:>10.0f}  "
              f"{floor['outcome']}")
        worst = 0.0
        for case in cases(Limits()):
            if args.only and case.name not in args.only:
                continue
            path = Path(tmp) / case.name
            path.write_bytes(case.data)
            r = measure(path)
            over = float(r["rss_mb"]) - float(floor["rss_mb"])  # type: ignore[arg-type]
            worst = max(worst, over)
            print(f"{case.name:<28}{len(case.data) / 1e6:>9.2f}{r['seconds']:>9.3f}{r['rss_mb']:>12.0f}"
                  f"{over:>10.0f}  {r['outcome']}")
            path.unlink()
    print(f"largest growth over the baseline: {worst:.0f} MB (the largest input the limits allow is 20 MB)")


if __name__ == "__main__":
    main()
