"""Events published and still waiting for their outcome, known without reading the lake.

A run looks for raw-lake events without an outcome (chunks or a dead letter) to resume
what a crash left. That query reads the whole chunk table, so a run asks it only when
something may be pending:

- a publisher holds a locked marker under `<home>/state/inflight/` from before it
  publishes until every event it sent has its full outcome, then removes it;
- a marker nobody holds (its process died, or it only landed raw events, as `aifactory
  ingest` does) is an orphan: events may be pending, and the next run asks the lake;
- the lake is asked anyway when it never was, and at least every RECHECK_S (what a
  publisher on another host, or an older version, may have left).

A live marker is another run still waiting for its own events: they are not this run's
to resume. The kernel drops a lock when its process ends, however it ends, so a pid
reused by another process cannot make a dead publisher's marker look alive.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO

RECHECK_S = 3600.0


def folder(home: Path) -> Path:
    return home / "state" / "inflight"


class Marker:
    """This process's events in flight: held (locked) from before a publish until `clear`."""

    def __init__(self, home: Path) -> None:
        where = folder(home)
        where.mkdir(parents=True, exist_ok=True)
        self.path = where / f"{os.getpid()}-{uuid.uuid4().hex[:12]}.lock"
        # Locked under another name first: a reader must never find it unlocked while it is live.
        tmp = where / f".{self.path.name}.tmp"
        self._fh: IO[str] | None = tmp.open("w")
        fcntl.flock(self._fh, fcntl.LOCK_EX)
        os.replace(tmp, self.path)

    def clear(self) -> None:
        """Every event sent under this marker has its full outcome."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.release()

    def release(self) -> None:
        """Let go without saying the outcomes landed: the marker stays, an orphan."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None


@contextlib.contextmanager
def held(home: Path, sending: bool) -> Iterator[Marker | None]:
    """A marker for the block when it is `sending` events (else None), let go at its end;
    the block clears it once every event has its full outcome."""
    marker = Marker(home) if sending else None
    try:
        yield marker
    finally:
        if marker is not None:
            marker.release()


def orphans(home: Path) -> list[Path]:
    """Markers whose publisher no longer holds them."""
    found = []
    for path in sorted(folder(home).glob("*.lock")) if folder(home).exists() else []:
        try:
            with path.open("a") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # held: its publisher is still waiting for its outcomes
        except FileNotFoundError:
            continue  # cleared meanwhile
        found.append(path)
    return found


def _record(home: Path) -> Path:
    return folder(home) / "checked.json"


def check_due(home: Path) -> tuple[bool, list[Path]]:
    """Whether a run should ask the lake for pending events, and the orphans seen."""
    left = orphans(home)
    try:
        at = float(json.loads(_record(home).read_text())["at"])
    except (OSError, ValueError, KeyError, TypeError):
        return True, left
    return bool(left) or time.time() - at > RECHECK_S, left


def checked(home: Path, seen: list[Path], at: float) -> None:
    """The lake was asked at `at`: the orphans seen before are answered (what they left
    is in the answer, and the asking run sends it again under a marker of its own)."""
    for path in seen:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    record = _record(home)
    record.parent.mkdir(parents=True, exist_ok=True)
    tmp = record.with_name(f".checked.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"at": at}))
    os.replace(tmp, record)
