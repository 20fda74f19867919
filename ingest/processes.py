"""Child processes that the factory starts (the broker, the faust worker) live in
process groups of their own; stopping one stops its whole group. On Linux each is
also tied to this process: the kernel SIGKILLs it when this process dies, even by
SIGKILL, so none is left running with PPID 1."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

# PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process,
# so a child forked from a short-lived thread (a request, a Dagster op) would be killed
# with it. Fork from one thread that lives as long as the process: a ThreadPoolExecutor
# worker blocks on its queue and returns only on the None sentinel that shutdown(),
# the executor being collected or interpreter exit puts there (CPython 3.11
# concurrent/futures/thread.py `_worker`; there is no idle timeout), and this one is
# never shut down or collected. A forked copy of this process gets a spawner of its own.
_spawner: ThreadPoolExecutor | None = None
_spawner_lock = threading.Lock()


def _forget_spawner() -> None:
    global _spawner, _spawner_lock
    _spawner, _spawner_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_spawner)


def _spawner_thread() -> ThreadPoolExecutor:
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spawner")
        return _spawner


@cache
def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    return prctl


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that has the kernel SIGKILL the child when this process dies; None
    off Linux. It runs in the child between fork and exec, so it only calls prctl and
    getppid (libc is loaded here, before the fork)."""
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL))
        if os.getppid() != parent:  # the parent died before prctl: nothing would kill us later
            os._exit(1)

    return preexec


def popen_tied(args: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """`subprocess.Popen(args, **kwargs)` in a new session, the child dying with this
    process. Off the main thread it forks on the long-lived spawner thread (see above)."""
    def popen() -> subprocess.Popen[bytes]:
        return subprocess.Popen(args, start_new_session=True, preexec_fn=_die_with_parent(), **kwargs)

    if threading.current_thread() is threading.main_thread():
        return popen()
    return _spawner_thread().submit(popen).result()


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
