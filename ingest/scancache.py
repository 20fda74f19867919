"""The scan cache: what each file of a source produced last time, so that a file
whose bytes have not changed is not parsed again.

Per source root (and tenant) one SQLite file under the data directory holds, for
each file, its stat signature (size, mtime, ctime, inode), the sha256 of its bytes,
its redacted path, and the (document id, content hash) of every document it
produced. Entries are keyed by a keyed hash of the path (`token`), so the cache
never holds a path in the clear and a scan need not redact an unchanged path.

A file is skipped only when each of its documents is still the latest upsert in
the raw lake with that content hash (the scan checks that, see `ingest.sources.scan`)
*and* either its stat signature is unchanged and was taken when the file had been
still for `SETTLE_NS` (then it is not even read: a write moves the ctime, which no
tool can set back), or its bytes hash to the same digest. The raw lake stays the
truth: the cache only saves reading and parsing. Anything that shapes what a parse
yields (parser version, limits, record fields, tenant, jurisdiction, privacy policy,
PII key) is part of the cache's context; when it differs, the whole cache is ignored.
A missing, stale or corrupt cache file just means a full scan.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CACHE_VERSION = 3
# A stat signature vouches for the bytes only when the file had been still this long when
# it was taken: a write within the same timestamp tick as the read would not move it.
# Two seconds covers the coarsest clocks in use (FAT, some network file systems).
SETTLE_NS = 2_000_000_000

Signature = tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode


def signature(st: os.stat_result) -> Signature:
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def settled(st: os.stat_result, now_ns: int | None = None) -> bool:
    """Whether the file had been still for SETTLE_NS when `st` was taken (just now)."""
    now = time.time_ns() if now_ns is None else now_ns
    return now - max(st.st_mtime_ns, st.st_ctime_ns) >= SETTLE_NS


@dataclass(frozen=True)
class FileEntry:
    """What one file was (its redacted path `rid`, its stat signature and whether that
    was settled, its digest), and which documents it produced (id, content hash)."""

    rid: str
    stat: Signature
    settled: bool
    sha256: str
    docs: tuple[tuple[str, str], ...]

    def vouches(self, st: os.stat_result) -> bool:
        """Whether `st` shows the very bytes this entry hashed, without reading them."""
        return self.settled and signature(st) == self.stat

    def to_json(self) -> list[Any]:
        return [self.rid, list(self.stat), self.settled, self.sha256, [list(d) for d in self.docs]]


def context_fingerprint(**parts: Any) -> str:
    """One digest of everything that shapes what a parse of a file yields."""
    doc = json.dumps({"cache_version": CACHE_VERSION, **parts}, sort_keys=True, default=repr)
    return hashlib.sha256(doc.encode()).hexdigest()


def secret_fingerprint(secret: bytes) -> str:
    """Tells PII keys apart without revealing them (hashed tokens depend on the key)."""
    return hashlib.sha256(b"aifactory-scan-cache\x00" + secret).hexdigest()[:16]


SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    token TEXT PRIMARY KEY, rid TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL, ino INTEGER NOT NULL, settled INTEGER NOT NULL, sha256 TEXT NOT NULL,
    docs TEXT NOT NULL  -- document id, content hash, ...: NUL-separated (no path or record id holds a NUL)
) WITHOUT ROWID;
"""
COLUMNS = "token, rid, size, mtime_ns, ctime_ns, ino, settled, sha256, docs"
Row = tuple[str, str, int, int, int, int, int, str, str]


def _row(token: str, e: FileEntry) -> Row:
    return (token, e.rid, *e.stat, int(e.settled), e.sha256, "\0".join(v for doc in e.docs for v in doc))


def _entry(row: Row) -> FileEntry:
    _, rid, size, mtime, ctime, ino, still, sha256, docs = row
    parts = docs.split("\0") if docs else []
    docs_of = tuple(zip(parts[::2], parts[1::2], strict=True))  # a torn row raises: the scan is full
    return FileEntry(rid, (size, mtime, ctime, ino), bool(still), sha256, docs_of)


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")  # a cache: a lost tail costs a read of those files
    db.execute("PRAGMA secure_delete=ON")  # an entry an erasure forgets is overwritten, not left in a free page
    db.executescript(SCHEMA)
    return db


class ScanCache:
    """The cache of one source root: token of a file path (relative to the root) -> FileEntry.

    One SQLite file per source root: a scan loads every entry in one query, and saving
    writes only the entries that changed (an edit to one file of 100,000 rewrites one
    row, not the whole cache). Two runs scanning one folder at once each write their
    own changes."""

    def __init__(self, path: Path, context: str, key: bytes = b"") -> None:
        self.path, self.context, self.key = path, context, key
        self.entries: dict[str, FileEntry] = {}
        self._changed: dict[str, FileEntry | None] = {}  # token -> its new entry, None when forgotten
        self._stale = False  # written under another context, or unreadable: every stored row goes

    @classmethod
    def open(cls, folder: Path, *, root_uri: str, tenant: str, context: str, key: bytes = b"") -> ScanCache:
        """The cache of `root_uri` for `tenant` under `folder`; empty when there is
        none, when it was written under another context, or when it cannot be read.
        `key` (the tenant's PII key) keys the tokens of paths."""
        name = hashlib.sha256(f"{tenant}\x00{root_uri}".encode()).hexdigest()[:24]
        cache = cls(folder / f"scan-{name}.sqlite", context, key)
        with contextlib.suppress(OSError):
            (folder / f"scan-{name}.json").unlink()  # an older version's cache
        if not cache.path.exists():
            return cache
        try:
            with contextlib.closing(_connect(cache.path)) as db:
                stored = db.execute("SELECT value FROM meta WHERE name = 'context'").fetchone()
                if stored is None or stored[0] != context:
                    log.info("scan cache %s was written under other settings; scanning in full", cache.path)
                    cache._stale = True
                    return cache
                cache.entries = {row[0]: _entry(row) for row in db.execute(f"SELECT {COLUMNS} FROM files")}
        except (sqlite3.Error, ValueError, TypeError) as exc:
            log.warning("scan cache %s cannot be read (%s); scanning in full", cache.path, exc)
            cache.entries, cache._stale = {}, True
            for part in ("", "-wal", "-shm"):  # made again by the save
                with contextlib.suppress(OSError):
                    cache.path.with_name(cache.path.name + part).unlink()
        return cache

    def token(self, rel: str) -> str:
        """The key of a path: a keyed hash, so the path is neither kept nor redacted."""
        return hmac.new(self.key, rel.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()[:32]

    def get(self, token: str) -> FileEntry | None:
        return self.entries.get(token)

    def put(self, token: str, entry: FileEntry) -> None:
        if any("\0" in doc_id for doc_id, _ in entry.docs):  # cannot be stored: the file is read next time
            self.forget(token)
        elif self.entries.get(token) != entry:
            self.entries[token] = self._changed[token] = entry

    def forget(self, token: str) -> None:
        if self.entries.pop(token, None) is not None:
            self._changed[token] = None

    def retain(self, tokens: set[str]) -> None:
        """Drop the entries of files the folder no longer holds (given by their tokens)."""
        for token in set(self.entries) - tokens:
            self.forget(token)

    def save(self) -> None:
        """Write the entries that changed, in one transaction. A failure to write is
        logged, not raised: the next scan is merely slower."""
        if not (self._changed or self._stale):
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.closing(_connect(self.path)) as db:
                db.execute("BEGIN IMMEDIATE")
                try:
                    if self._stale:
                        db.execute("DELETE FROM files")
                        db.executemany(f"INSERT INTO files ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                       (_row(t, e) for t, e in self.entries.items()))
                    else:
                        db.executemany("DELETE FROM files WHERE token = ?",
                                       ((t,) for t, e in self._changed.items() if e is None))
                        db.executemany(f"INSERT OR REPLACE INTO files ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                       (_row(t, e) for t, e in self._changed.items() if e is not None))
                    db.execute("INSERT OR REPLACE INTO meta VALUES ('context', ?)", (self.context,))
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            self._changed, self._stale = {}, False
        except (OSError, sqlite3.Error) as exc:
            log.warning("cannot write the scan cache %s: %s", self.path, exc)


def forget_documents(folder: Path, gone: Callable[[str, FileEntry], bool]) -> int:
    """Remove, from every scan cache under `folder`, the entries for which
    `gone(token, entry)` holds (an erasure: the cache must not vouch for content that
    is gone); returns how many."""
    forgotten = 0
    for path in sorted(folder.glob("scan-*.sqlite")) if folder.exists() else []:
        try:
            with contextlib.closing(_connect(path)) as db:
                tokens = [(row[0],) for row in db.execute(f"SELECT {COLUMNS} FROM files") if gone(row[0], _entry(row))]
                if tokens:
                    db.execute("BEGIN IMMEDIATE")
                    db.executemany("DELETE FROM files WHERE token = ?", tokens)
                    db.execute("COMMIT")
                forgotten += len(tokens)
        except (sqlite3.Error, ValueError) as exc:
            log.warning("scan cache %s cannot be read (%s); removing it", path, exc)
            with contextlib.suppress(OSError):
                path.unlink()
    return forgotten
