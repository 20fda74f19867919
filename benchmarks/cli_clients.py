"""How fast the writing commands answer as clients of `aifactory up` (issue 21: "well
under a second after their own start"): `run` of a folder with one edited file, `ingest`,
`delete`, `lineage trace`, each a fresh process as a shell runs it, and the same commands
with the factory down for the ratio.

    python -m benchmarks.cli_clients [--rounds 5]

Builds a data directory from the bundled sample corpus, then times each command with the
factory up (the service owning the index carries them out: aifactory/remote.py) and,
for comparison, the same command carrying itself out (a settings variable differs, so
the service declines it; it is still a client of the running broker and indexer).
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

from benchmarks.cli_help import cpu
from benchmarks.incremental import factory_up

TARGET_S = 1.0


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    cli = [sys.executable, "-m", "aifactory.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {**os.environ, "AIFACTORY_HOME": str(work / "home")}  # as factory_up starts the services
        subprocess.run([*cli, "run", "--json"], env=env, cwd=work, stdout=subprocess.DEVNULL, check=True)
        docs = work / "notes"
        docs.mkdir()
        note = docs / "note.md"
        own = {**env, "AIFACTORY_FETCH_MAX_WAIT_MS": "51"}  # the service declines: the command does the work
        times: dict[str, dict[str, list[float]]] = {}
        with factory_up(work / "home"):
            for n in range(args.rounds):
                for way, with_env in (("carried", env), ("itself", own)):
                    row = times.setdefault(way, {})
                    note.write_text(f"# Note\nedit {way} {n}: the kiln fires terracotta jugs.\n")
                    row.setdefault("run (1 edit)", []).append(timed(
                        [*cli, "run", "notes", "--tenant", "bench", "--jurisdiction", "EU", "--json"], with_env, work))
                    row.setdefault("ingest (unchanged)", []).append(timed(
                        [*cli, "ingest", "notes", "--tenant", "bench", "--jurisdiction", "EU", "--json"], with_env,
                        work))
                    row.setdefault("lineage trace", []).append(timed(
                        [*cli, "lineage", "trace", "bench:note.md", "--tenant", "bench", "--json"], with_env, work))
                    row.setdefault("delete", []).append(timed(
                        [*cli, "delete", "--tenant", "bench", "--document", "bench:note.md", "--json"], with_env,
                        work))
    print(f"CPU {cpu()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; {args.rounds} rounds")
    print(f"{'command, with `aifactory up`':<30}{'carried p50':>12}{'itself p50':>12}{'/ 1 s':>8}{'speed-up':>10}")
    for name, carried in times["carried"].items():
        mine, theirs = statistics.median(carried), statistics.median(times["itself"][name])
        print(f"{name:<30}{mine:>12.3f}{theirs:>12.3f}{mine / TARGET_S:>8.2f}{theirs / mine:>9.1f}x")


if __name__ == "__main__":
    main()
