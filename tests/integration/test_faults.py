"""Fault injection, short: SIGKILL the broker, the faust worker and the process that
lands the lake, each once at a random moment of `aifactory run`; after every restart
the lake, the index and the dead-letter store hold exactly what the folder says.
A run whose broker is killed fails within seconds, naming the broker and its log.
The long version, with the embedding job too and many kills: benchmarks/faults.py."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from benchmarks.faults import Folder, find, rounds_until_hit, start_run
from benchmarks.peers.common import descendants, kill_pids
from vectorstore.embedder import Embedder

pytestmark = pytest.mark.integration

ATTEMPTS = 3  # a kill that finds the run finished is tried again, with a shorter wait


@pytest.mark.timeout(420)
@pytest.mark.parametrize("target", ["broker", "worker", "landing"])
def test_a_killed_run_restarts_to_exactly_the_expected_state(target: str, tmp_path: Path,
                                                             embedder: Embedder) -> None:
    rng = random.Random(target)
    folder = Folder(tmp_path / "src", rng)
    folder.root.mkdir()
    folder.add(6)
    kill = None
    for kill, broken in rounds_until_hit(target, tmp_path / "home", folder, rng, embedder, attempts=ATTEMPTS):
        assert broken == [], kill
    assert kill is not None and kill.hit, f"no kill of the {target} landed while it worked in {ATTEMPTS} runs"


@pytest.mark.timeout(120)
def test_a_run_whose_broker_dies_fails_at_once_and_says_so(tmp_path: Path) -> None:
    """Kafka clients of a dead broker only retry (30-60 s); the run notices the process instead."""
    folder = Folder(tmp_path / "src", random.Random(0))
    folder.root.mkdir()
    folder.add(3)
    proc = start_run(tmp_path / "home", folder.root)
    try:
        deadline = time.monotonic() + 60
        broker = None
        while (worker := find(proc.pid, "transforms.worker")) is None and time.monotonic() < deadline:
            broker = find(proc.pid, "--storage-engine") or broker
            time.sleep(0.05)
        assert worker is not None and broker is not None, "the run did not start its broker and worker"
        killed = time.monotonic()
        os.kill(broker, signal.SIGKILL)  # while the run waits for the worker's chunks
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - killed
    finally:
        kill_pids([proc.pid, *descendants(proc.pid)])
        proc.wait(10)
    stderr = err.decode(errors="replace")
    # The last such line: the first says the run is starting.
    message = next((line for line in reversed(stderr.splitlines()) if line.startswith("aifactory run: ")),
                   stderr[-3000:])
    assert proc.returncode == 2 and took < 10, (proc.returncode, took, message)
    assert "Traceback" not in stderr, stderr[-8000:]
    assert "the embedded Kafka broker" in message and "was killed by SIGKILL" in message, message
    assert str(tmp_path / "home" / "logs" / "broker.log") in message and "run the command again" in message
