"""Chunks a reviewer released from quarantine, and released chunks held again.

The screener errs both ways. A chunk it quarantined wrongly stays out of default search
until a person says otherwise: `aifactory quarantine release CHUNK_ID --tenant T --reason
...` appends a decision here, and the index sync writes the chunk's point as `released`
(searchable by default, the screener's reasons kept beside the reviewer's). `hold` undoes
it. The chunk id names the text (document id and content hash), so an edited chunk is
screened anew and needs a review of its own.

    <home>/governance/releases.jsonl      one decision per line, append-only, fsync'd

The file only grows; a reader that remembers its size knows the decisions since
(`since`), which is how a one-shot sync learns the tenants to compare again.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from governance.contracts import utcnow
from governance.jsonlines import read_objects

Decision = Literal["release", "hold"]


@dataclass(frozen=True)
class Release:
    tenant: str
    chunk_id: str
    decision: Decision
    reason: str
    by: str
    at: str

    def note(self) -> dict[str, str]:
        """What a released point's payload says of it."""
        return {"by": self.by, "reason": self.reason, "at": self.at}


class Releases:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._cache: tuple[int, dict[tuple[str, str], Release]] = (-1, {})

    def record(self, tenant: str, chunk_ids: list[str], *, decision: Decision, reason: str, by: str
               ) -> list[Release]:
        """Append one decision per chunk, durably, safe across processes."""
        at = utcnow().isoformat()
        made = [Release(tenant, cid, decision, reason, by, at) for cid in chunk_ids]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, "".join(json.dumps(asdict(r)) + "\n" for r in made).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        return made

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def current(self) -> dict[tuple[str, str], Release]:
        """(tenant, chunk id) -> the release in force (the last decision for it was `release`)."""
        size = self.size()
        if size != self._cache[0]:
            latest: dict[tuple[str, str], Release] = {}
            for r in self._read(0):
                latest[(r.tenant, r.chunk_id)] = r
            self._cache = (size, {k: r for k, r in latest.items() if r.decision == "release"})
        return self._cache[1]

    def since(self, offset: int) -> list[Release]:
        """The decisions appended after the file was `offset` bytes long."""
        return self._read(offset)

    def _read(self, offset: int) -> list[Release]:
        objects = read_objects(self.path, offset)
        out = []
        for o in objects:
            try:
                out.append(Release(str(o["tenant"]), str(o["chunk_id"]), o["decision"], str(o.get("reason", "")),
                                   str(o.get("by", "")), str(o.get("at", ""))))
            except KeyError:
                continue
        return out

