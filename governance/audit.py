"""The audit log: append-only and hash-chained. Each entry commits to the one before
it (`prev` is that entry's hash, `hash` covers the whole entry), so altering, removing
or reordering any entry breaks the chain from there on; `verify` names the first
entry that does not fit. A head file keeps the last sequence number and hash, so
cutting entries off the end is caught too.

Entries say who did what to which data and when. They never hold personal data in
clear: a data subject is named by its keyed hash (see governance.pii.subject_key).
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from governance.contracts import utcnow

GENESIS = "0" * 64


def actor() -> str:
    """Who acts: AIFACTORY_ACTOR when set (a service account), else the OS user."""
    return os.environ.get("AIFACTORY_ACTOR") or f"user:{getpass.getuser()}"


def entry_hash(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    problem: str = ""
    line: int = 0  # the first line that does not fit (1-based); 0 when ok


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.head_path = path.with_suffix(".head")

    def append(self, action: str, target: str, *, who: str | None = None, **details: Any) -> dict[str, Any]:
        """Add one entry; safe across processes (an exclusive lock on the log)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            seq, prev = self._head()
            entry: dict[str, Any] = {"seq": seq + 1, "at": utcnow().isoformat(), "actor": who or actor(),
                                     "action": action, "target": target, "details": details, "prev": prev}
            digest = entry["hash"] = entry_hash(entry)
            os.write(fd, (json.dumps(entry, sort_keys=True) + "\n").encode())
            os.fsync(fd)
            self._write_head(seq + 1, digest)
        finally:
            os.close(fd)  # releases the lock
        return entry

    def _head(self) -> tuple[int, str]:
        if not self.head_path.exists():
            return 0, GENESIS
        head = json.loads(self.head_path.read_text())
        return int(head["seq"]), str(head["hash"])

    def _write_head(self, seq: int, digest: str) -> None:
        tmp = self.head_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"seq": seq, "hash": digest}))
        os.replace(tmp, self.head_path)

    def entries(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)

    def verify(self) -> Verification:
        """Walk the chain; name the first entry that was altered, removed or reordered."""
        prev, expected = GENESIS, 1
        count = 0
        lines = self.path.read_text(encoding="utf-8").splitlines() if self.path.exists() else []
        for n, line in enumerate(lines, start=1):
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                return Verification(False, count, f"line {n} is not a JSON entry: it was altered", n)
            seq = entry.get("seq")
            if entry.get("hash") != entry_hash(entry):
                return Verification(False, count, f"entry {seq} (line {n}) was altered: its hash does not match "
                                    "its content", n)
            if seq != expected or entry.get("prev") != prev:
                what = "removed" if isinstance(seq, int) and seq > expected else "reordered"
                return Verification(False, count, f"entry {expected} is missing or out of place at line {n} "
                                    f"(found entry {seq}): entries were {what}", n)
            prev, expected, count = entry["hash"], expected + 1, count + 1
        seq, digest = self._head()
        if (seq, digest) != (count, prev if count else GENESIS):
            return Verification(False, count, f"the log ends at entry {count} but its head says {seq}: entries "
                                "were removed from the end", len(lines) + 1)
        return Verification(True, count)
