"""A command killed with SIGKILL takes its embedded broker and faust worker with it:
nothing is left running with PPID 1 (ingest/processes.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.procs import pids_with_home

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")]

START_S = 120.0  # the model and the broker start before the worker
DEATH_S = 5.0


def children(home: Path) -> tuple[set[int], set[int]]:
    """The brokers and the faust workers that commands with this AIFACTORY_HOME started."""
    return pids_with_home("tansu", home), pids_with_home("transforms.worker", home)


@pytest.mark.timeout(240)
def test_a_killed_run_leaves_no_broker_or_worker(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIFACTORY_", "KAFKA_"))}
    env.update(AIFACTORY_HOME=str(home), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    run = subprocess.Popen([sys.executable, "-m", "aifactory.cli", "run"], env=env, cwd=tmp_path,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + START_S
        while not all(found := children(home)):
            assert run.poll() is None, f"the run ended (exit {run.returncode}) before its broker and worker were seen"
            assert time.monotonic() < deadline, "the run did not start its broker and worker"
            time.sleep(0.05)
        seen = set.union(*found)
        run.kill()  # SIGKILL to the command alone, not to its process group
        run.wait(10)
        deadline = time.monotonic() + DEATH_S
        while (left := set.union(*children(home))) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not left, f"left running after their parent was killed: {sorted(left)}"
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(10)
        for pid in seen | set.union(*children(home)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
