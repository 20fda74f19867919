"""Children started through `popen_tied` die with this process, and only with it: not
with the thread that asked for them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from ingest.processes import popen_tied, stop_group
from tests.fixtures.procs import running

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not running(pid)


def test_a_child_outlives_the_short_lived_thread_that_started_it() -> None:
    started: list[subprocess.Popen[bytes]] = []
    thread = threading.Thread(target=lambda: started.append(popen_tied(["sleep", "60"])))
    thread.start()
    thread.join()
    try:
        assert not gone_within(started[0].pid, 1.0), "the child died with the thread that forked it"
    finally:
        stop_group(started[0], 1.0)


def test_children_die_when_their_parent_is_killed() -> None:
    """One started from the main thread, one from a thread that has ended."""
    kids: list[int] = []
    with subprocess.Popen(
            [sys.executable, "-c",
             "import threading, time\n"
             "from ingest.processes import popen_tied\n"
             "kids = [popen_tied(['sleep', '60'])]\n"
             "t = threading.Thread(target=lambda: kids.append(popen_tied(['sleep', '60'])))\n"
             "t.start(); t.join()\n"
             "print(*(k.pid for k in kids), flush=True)\n"
             "time.sleep(60)\n"],
            stdout=subprocess.PIPE, text=True, start_new_session=True) as parent:
        try:
            assert parent.stdout is not None
            kids = [int(pid) for pid in parent.stdout.readline().split()]
            assert len(kids) == 2 and all(running(pid) for pid in kids)
            parent.kill()
            parent.wait(10)
            assert all(gone_within(pid, 5.0) for pid in kids), "a child outlived its killed parent"
        finally:
            parent.kill()
            for pid in kids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
