"""How fast `aifactory search` (or `status`, or `lineage trace`) answers from a fresh process, with the API up
(it owns the embedded index with the model loaded and answers the command) and without
(the command loads torch, DuckDB and the model itself: the issue measured 10-30 s).

    python -m benchmarks.cli_search [--rounds 10] [--command status|lineage]

Builds a data directory from the bundled sample corpus (`aifactory run`), then times
each command line as a fresh process, as a shell runs it. Prints p50 and worst, the
ratio to the 0.5 s target and to the search without the API.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.cli_help import cpu, timed
from ingest.broker import free_port

TARGET_S = 0.5
COMMANDS = {"search": ["search", "How long is parental leave?", "--tenant", "helio-eu", "--json"],
            "status": ["status", "--json"],
            # Carried out by the API's process (aifactory/remote.py), like `run`, `ingest` and `delete`.
            "lineage": ["lineage", "trace", "helio-eu:hr/parental-leave.md", "--tenant", "helio-eu", "--json"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--command", choices=sorted(COMMANDS), default="search")
    args = p.parse_args()
    command = COMMANDS[args.command]
    cli = [sys.executable, "-m", "aifactory.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIFACTORY_", "KAFKA_", "QDRANT_"))}
        env["AIFACTORY_HOME"] = str(Path(tmp) / "home")
        subprocess.run([*cli, "run", "--json"], env=env, stdout=subprocess.DEVNULL, check=True)
        alone = timed([*cli, *command], max(2, args.rounds // 5), env, check=True)
        port = free_port()
        server = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.3)
            up = timed([*cli, *command], args.rounds, env, check=True)
        finally:
            server.terminate()
            server.wait(timeout=60)
    print(f"CPU {cpu()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    print(f"{'aifactory ' + args.command:<34}{'p50 s':>8}{'worst s':>9}{'/ target':>10}{'speed-up':>10}")
    base = statistics.median(alone)
    for label, times in (("without the API (loads everything)", alone), ("with `aifactory serve` up", up)):
        median = statistics.median(times)
        print(f"{label:<34}{median:>8.3f}{max(times):>9.3f}{median / TARGET_S:>10.2f}{base / median:>9.1f}x")


if __name__ == "__main__":
    main()
