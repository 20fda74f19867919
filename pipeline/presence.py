"""Which services run on a data directory, known without asking them.

A service (`aifactory up`, a worker, the API) writes a card under
`<home>/state/services/` and holds a lock on it for as long as it runs; the kernel
drops the lock when the process ends, however it ends (kill -9 included). A card
whose lock nobody holds is a leftover and is removed by whoever reads it.

    with present(home, "index", detail={"group": "aifactory-index"}):
        ...                                   # `running(home, "index")` lists it meanwhile
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vectorstore.owner import this_command


@dataclass(frozen=True)
class Presence:
    kind: str
    pid: int
    command: str
    since: str
    detail: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.kind} (pid {self.pid}, `{self.command}`, since {self.since})"


def folder(home: Path) -> Path:
    return home / "state" / "services"


@contextlib.contextmanager
def present(home: Path, kind: str, *, detail: dict[str, Any] | None = None) -> Iterator[Presence]:
    """Announce this process as a running `kind` service for the block."""
    where = folder(home)
    where.mkdir(parents=True, exist_ok=True)
    me = Presence(kind=kind, pid=os.getpid(), command=this_command(2),
                  since=datetime.now(UTC).isoformat(timespec="seconds"), detail=detail or {})
    path = where / f"{kind}-{me.pid}.json"
    # Locked and written under another name first: a reader must never find it unlocked.
    tmp = where / f".{kind}-{me.pid}.tmp"
    fh = tmp.open("w")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fh.write(json.dumps(asdict(me)))
        fh.flush()
        os.replace(tmp, path)
        yield me
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        fh.close()


def running(home: Path, kind: str | None = None) -> list[Presence]:
    """The services alive now on `home` (of `kind`, when given), oldest first."""
    where = folder(home)
    if not where.is_dir():
        return []
    alive = []
    for path in sorted(where.glob(f"{kind or '*'}-*.json")):
        try:
            fh = path.open()
        except FileNotFoundError:
            continue
        with fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:  # held: alive
                try:
                    alive.append(Presence(**json.loads(fh.read() or "{}")))
                except (ValueError, TypeError):
                    continue  # written this instant; seen on the next look
                continue
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # nobody holds it: its process is gone
    return sorted(alive, key=lambda p: p.since)
