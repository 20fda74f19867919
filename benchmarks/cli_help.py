"""How fast the CLI answers `--help` and a mistyped option: the first thing a new user runs.

    python -m benchmarks.cli_help [--rounds 10]

Runs each command line as a fresh process (as a shell would) and prints the median and
the worst wall time, the interpreter's own start (`python -c pass`, the floor no CLI
can go under), the ratio to the 0.5 s target and to the issue's baseline (5-11 s
before the parser stopped importing the pipeline; 5 s is used, the kinder end).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 0.5
BASELINE_S = 5.0
LINES = [["--help"], ["run", "--help"], ["search", "--help"], ["search", "x", "--tenant", "t", "--top-k", "0"]]


def timed(cmd: list[str], rounds: int, env: dict[str, str] | None = None, *, check: bool = False) -> list[float]:
    """Wall seconds of each of `rounds` fresh processes running `cmd`."""
    if env is None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIFACTORY_")}
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=check)
        times.append(time.perf_counter() - started)
    return times


def cpu() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        text = ""
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=10)
    args = p.parse_args()
    print(f"CPU {cpu()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; python {platform.python_version()}")
    floor = statistics.median(timed([sys.executable, "-c", "pass"], args.rounds))
    print(f"{'command':<44}{'median s':>10}{'worst s':>9}{'/ target':>10}{'baseline /':>12}")
    print(f"{'python -c pass (the floor)':<44}{floor:>10.3f}")
    for line in LINES:
        times = timed([sys.executable, "-m", "aifactory.cli", *line], args.rounds)
        median = statistics.median(times)
        print(f"{'aifactory ' + ' '.join(line):<44}{median:>10.3f}{max(times):>9.3f}{median / TARGET_S:>10.2f}"
              f"{BASELINE_S / median:>11.1f}x")


if __name__ == "__main__":
    main()
