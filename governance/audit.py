"""The audit log: append-only, hash-chained and keyed. Each entry commits to the one
before it (`prev` is that entry's hash) and its `hash` is an HMAC-SHA256 of the whole
entry under the operator's audit key, which lives outside the data directory
(governance/audit_key.py): someone who can write the data directory but not read the
key cannot alter, remove, reorder or forge an entry and recompute the chain.

The last sequence number and hash are kept twice, each with its own HMAC: in a head file
beside the log, and in an anchor outside the data directory. The head catches entries cut
off the end; the anchor catches the log and its head rewritten, truncated or deleted
together. `verify` names the first thing that does not fit, and never fails on what it
reads (a damaged file is a finding, not a crash).

A crash after an entry is durable but before the head is, leaves the log one entry ahead:
`verify` says so without calling it tampering, and the next append continues after that
entry (the log's last entry, not the head, says where the chain is).

Entries say who did what to which data, when and from where (`from`: the host, the
process and the program). The actor is the operating-system user that ran the process;
AIFACTORY_ACTOR, which anyone can set, is recorded beside it as a claim
(`on_behalf_of`), never in its place. Entries never hold personal data in clear: a
data subject is named by its keyed hash (see governance.pii.subject_key).
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import hmac
import json
import os
import re
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from governance.audit_key import anchor_path, audit_key
from governance.contracts import utcnow

GENESIS = "0" * 64
TAIL_BYTES = 1 << 16  # the log's end read to find its last entry


def actor() -> str:
    """Who acts: the operating-system user of this process."""
    return f"user:{getpass.getuser()}"


def process_name() -> str:
    """The program and its command word (`aifactory run`, `dagster`), never its other
    arguments: they may hold personal data (an erasure's subject)."""
    program = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    command = sys.argv[1] if len(sys.argv) > 1 and re.fullmatch(r"[a-z][a-z-]{0,30}", sys.argv[1]) else ""
    return f"{program} {command}".strip()


def origin() -> dict[str, Any]:
    """Where an entry was written from."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "program": process_name()}


def claimed() -> str | None:
    """AIFACTORY_ACTOR: a service account the caller says it acts for (a claim, not an identity)."""
    return os.environ.get("AIFACTORY_ACTOR") or None


def entry_hash(entry: dict[str, Any], key: bytes) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hmac.new(key, json.dumps(body, sort_keys=True, separators=(",", ":")).encode(), hashlib.sha256).hexdigest()


def legacy_hash(entry: dict[str, Any]) -> str:
    """The unkeyed SHA-256 of entries written before the audit key (kept readable, not trusted)."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _mark(key: bytes, seq: int, digest: str) -> str:
    """The HMAC of a head or an anchor: the sequence number and hash it points at."""
    return hmac.new(key, f"{seq}:{digest}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    problem: str = ""
    line: int = 0  # the first line that does not fit (1-based); 0 when ok
    note: str = ""  # something to know that is not tampering (a crash left the head one behind)


class AuditLog:
    def __init__(self, path: Path, *, key: bytes | None = None, anchor: Path | None = None) -> None:
        self.path = path
        self.head_path = path.with_suffix(".head")
        self._key = key
        self.anchor_path = anchor or anchor_path(path)

    @property
    def key(self) -> bytes:
        if self._key is None:
            self._key = audit_key()
        return self._key

    def append(self, action: str, target: str, *, who: str | None = None, **details: Any) -> dict[str, Any]:
        """Add one entry; safe across processes (an exclusive lock on the log)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            seq, prev = self._last(fd)
            entry: dict[str, Any] = {"seq": seq + 1, "at": utcnow().isoformat(), "actor": who or actor(),
                                     "action": action, "target": target, "details": details, "prev": prev,
                                     "from": origin()}
            if (claim := claimed()) and who is None:
                entry["on_behalf_of"] = claim
            digest = entry["hash"] = entry_hash(entry, self.key)
            os.write(fd, (json.dumps(entry, sort_keys=True) + "\n").encode())
            os.fsync(fd)
            self._mark_file(self.head_path, seq + 1, digest)
            self._mark_file(self.anchor_path, seq + 1, digest)
        finally:
            os.close(fd)  # releases the lock
        return entry

    def _last(self, fd: int) -> tuple[int, str]:
        """The chain's end: the log's last entry when it verifies (it is durable even if the
        head is not), else the head."""
        size = os.fstat(fd).st_size
        if size:
            tail = os.pread(fd, min(size, TAIL_BYTES), max(0, size - TAIL_BYTES))
            for line in reversed(tail.splitlines()):
                entry = _parse(line)
                if entry is not None and isinstance(entry.get("seq"), int) and \
                        str(entry.get("hash")) in (entry_hash(entry, self.key), legacy_hash(entry)):
                    return int(entry["seq"]), str(entry["hash"])
                if line.strip():
                    break
        head = self._read_mark(self.head_path)
        return (head[0], head[1]) if head else (0, GENESIS)

    def _mark_file(self, path: Path, seq: int, digest: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            os.write(fd, json.dumps({"seq": seq, "hash": digest, "mac": _mark(self.key, seq, digest)}).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself survives a crash
        finally:
            os.close(dir_fd)

    def _read_mark(self, path: Path) -> tuple[int, str, bool | None] | None:
        """(seq, hash, whether its HMAC holds: None for an unsigned head of a log from before
        the audit key) of a head or an anchor; None when absent.
        Raises ValueError when the file is not a mark at all."""
        if not path.exists():
            return None
        mark = json.loads(path.read_bytes().decode("utf-8"))
        if not isinstance(mark, dict) or not isinstance(mark.get("seq"), int) or not isinstance(mark.get("hash"), str):
            raise ValueError("not a head")
        if "mac" not in mark:
            return mark["seq"], mark["hash"], None  # a head from before the audit key
        good = hmac.compare_digest(str(mark["mac"]), _mark(self.key, mark["seq"], mark["hash"]))
        return mark["seq"], mark["hash"], good

    def entries(self) -> Iterator[dict[str, Any]]:
        """The entries, for reports; a damaged line is skipped (`verify` names it)."""
        if not self.path.exists():
            return
        with self.path.open("rb") as fh:
            for line in fh:
                entry = _parse(line) if line.strip() else None
                if entry is not None:
                    yield entry

    def verify(self) -> Verification:
        """Walk the chain; name the first entry that was altered, removed, reordered or forged,
        then check the end against the head and the anchor."""
        prev, expected = GENESIS, 1
        count = legacy = 0
        keyed = False  # once one entry is keyed, an unkeyed one after it is a forgery
        hashes: list[str] = []
        raw = self.path.read_bytes().split(b"\n") if self.path.exists() else []
        lines = [(n, line) for n, line in enumerate(raw, start=1) if line.strip()]
        for n, line in lines:
            entry = _parse(line)
            if entry is None:
                return Verification(False, count, f"line {n} is not a JSON entry: it was altered", n)
            seq = entry.get("seq")
            if hmac.compare_digest(str(entry.get("hash")), entry_hash(entry, self.key)):
                keyed = True
            elif not keyed and entry.get("hash") == legacy_hash(entry):
                legacy += 1  # written before the audit key existed: chained, not signed
            else:
                return Verification(False, count, f"entry {seq} (line {n}) was altered or forged: its hash does not "
                                    "match its content under the audit key (or the log was written with another "
                                    "key: AIFACTORY_AUDIT_KEY / AIFACTORY_AUDIT_KEY_FILE)", n)
            if seq != expected or entry.get("prev") != prev:
                what = "removed" if isinstance(seq, int) and seq > expected else "reordered"
                return Verification(False, count, f"entry {expected} is missing or out of place at line {n} "
                                    f"(found entry {seq}): entries were {what}", n)
            prev, expected, count = entry["hash"], expected + 1, count + 1
            hashes.append(prev)
        end = len(raw) + 1
        note = ""
        for name, path in (("head", self.head_path), ("anchor", self.anchor_path)):
            try:
                mark = self._read_mark(path)
            except (ValueError, UnicodeDecodeError):
                return Verification(False, count, f"the {name} {path} is damaged: it is not a signed head", end)
            if mark is None:
                if count and name == "head":
                    return Verification(False, count, f"the head {path} is missing: it was removed", end)
                if count and name == "anchor":
                    note = f"no anchor at {path} yet (a log older than anchoring): the next entry writes one"
                continue
            seq, digest, good = mark
            if good is None and not keyed:
                pass  # an upgraded home: the old head, unsigned like the entries it points at
            elif not good:
                return Verification(False, count, f"the {name} {path} was forged: its HMAC does not hold", end)
            if seq > count:
                return Verification(False, count, f"the log ends at entry {count} but its {name} says {seq}: entries "
                                    "were removed from the end" + (" (the anchor outside the data directory says "
                                                                   "so)" if name == "anchor" else ""), end)
            if (hashes[seq - 1] if seq else GENESIS) != digest:
                return Verification(False, count, f"entry {seq} is not the one the {name} signed: the log was "
                                    "rewritten", end)
            if seq == count - 1:
                note = note or f"the {name} is one entry behind (a crash after the last entry was written); " \
                    "the next entry brings it up to date"
            elif seq < count:
                return Verification(False, count, f"the log has {count} entries but its {name} says {seq}: entries "
                                    "were added without the audit key's head", end)
        if legacy:
            note = (f"entries 1-{legacy} predate the audit key: chained but unsigned (anyone could have rewritten "
                    "them before the first signed entry); " + note).rstrip("; ")
        return Verification(True, count, note=note)


def _parse(line: bytes) -> dict[str, Any] | None:
    """One log line as an entry; None when it is not UTF-8 JSON of an object."""
    try:
        entry = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return entry if isinstance(entry, dict) else None
