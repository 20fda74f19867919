"""Child processes that the factory starts (the broker, the faust worker) live in
process groups of their own; stopping one stops its whole group."""

from __future__ import annotations

import os
import signal
import subprocess


def stop_group(proc: subprocess.Popen[bytes] | None, grace_s: float) -> None:
    """SIGTERM the group, then SIGKILL it if it is still there after `grace_s`:
    Tansu at times ignores SIGTERM, and a child may outlive its parent."""
    if proc is None or proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue
