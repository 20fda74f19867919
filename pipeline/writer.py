"""One writer at a time on a data directory.

A pass of the stages reads what the lake holds (what is new, what is pending),
writes rows, and meters what it did. Two passes at once on one home each saw the
other's documents as new: the chunks lake held the same row key in two files and
the ledger billed both. So every pass that writes takes `<home>/state/writer.lock`;
a second one waits in line (saying who it waits for) or, asked not to wait, is
refused with the holder named. Readers (status, search, the API's reads) never
take it. Within one process the lock is re-entrant: a delete is a run.

The same kind of lock, named `index-sync`, lets one index sync run at a time: the
indexer service (services.py) takes only that one, so a run holding the writer lock
can wait for the indexer without a deadlock, and `aifactory index` never embeds
the same chunks beside it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from pipeline.errors import PipelineError
from vectorstore.owner import this_command


class WriterBusyError(PipelineError):
    """Another process is writing to this data directory and the caller chose not to wait."""


@dataclass(frozen=True)
class Holder:
    pid: int
    command: str
    since: str

    def describe(self) -> str:
        return f"`{self.command}` (pid {self.pid}, since {self.since})"


WRITER, INDEX_SYNC = "writer", "index-sync"


class _Depths(threading.local):
    """How deep each thread is in `writing` of each home and lock (a delete inside a run is one writer)."""

    def __init__(self) -> None:
        self.of: dict[tuple[Path, str], int] = {}


_depths = _Depths()
# Per home and lock: threads of one process (the API's workers) queue here first.
_locks: dict[tuple[Path, str], threading.Lock] = {}
_locks_guard = threading.Lock()


def _thread_lock(key: tuple[Path, str]) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def holder(home: Path, name: str = WRITER) -> Holder | None:
    """Who holds lock `name` of `home` now, as it said when it took it (None if nobody)."""
    path = home / "state" / f"{name}.json"
    lock = home / "state" / f"{name}.lock"
    if not lock.exists():
        return None
    with lock.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return Holder(**json.loads(path.read_text()))
            except (OSError, ValueError, TypeError):
                return Holder(pid=0, command="another aifactory process", since="unknown")
        fcntl.flock(fh, fcntl.LOCK_UN)
    return None


@contextlib.contextmanager
def writing(home: Path, *, wait: bool = True, say: Callable[[str], object] | None = None,
            command: str | None = None, name: str = WRITER) -> Iterator[None]:
    """Hold the data directory's lock `name` (the writer lock) for the block: wait for it
    (telling `say` whom for) or, with `wait=False`, raise WriterBusyError naming the holder."""
    key = (home.resolve(), name)
    home = key[0]
    if _depths.of.get(key):
        _depths.of[key] += 1
        try:
            yield
        finally:
            _depths.of[key] -= 1
        return
    lock = _thread_lock(key)
    if not lock.acquire(blocking=wait):
        raise WriterBusyError(f"{home} is being written by another task of this process; try again when it ends")
    try:
        fh = _take(home, name, wait=wait, say=say, command=command or this_command(2))
        _depths.of[key] = 1
        try:
            yield
        finally:
            _depths.of[key] = 0
            fcntl.flock(fh, fcntl.LOCK_UN)
            fh.close()
    finally:
        lock.release()


def _take(home: Path, name: str, *, wait: bool, say: Callable[[str], object] | None, command: str) -> IO[str]:
    state = home / "state"
    state.mkdir(parents=True, exist_ok=True)
    fh = (state / f"{name}.lock").open("a")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        who = holder(home, name)
        described = who.describe() if who else "another aifactory process"
        if not wait:
            fh.close()
            raise WriterBusyError(f"{home} is being written by {described}; wait for it to finish, or run "
                                  "again without --no-wait to queue behind it") from None
        if say is not None:
            say(f"waiting for {described} to finish writing to {home}")
        fcntl.flock(fh, fcntl.LOCK_EX)  # Ctrl-C interrupts the wait
    me = Holder(pid=os.getpid(), command=command, since=datetime.now(UTC).isoformat(timespec="seconds"))
    tmp = state / f"{name}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(asdict(me)))
    os.replace(tmp, state / f"{name}.json")
    return fh
