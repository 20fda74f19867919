"""The scan cache: what each file of a source produced last time, so that a file
whose bytes have not changed is not parsed again.

Per source root (and tenant) one JSON file under the data directory holds, for
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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CACHE_VERSION = 2
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

    @classmethod
    def from_json(cls, value: Any) -> FileEntry:
        rid, (size, mtime, ctime, ino), still, sha256, docs = value
        return cls(str(rid), (int(size), int(mtime), int(ctime), int(ino)), bool(still), str(sha256),
                   tuple((str(d), str(h)) for d, h in docs))


def context_fingerprint(**parts: Any) -> str:
    """One digest of everything that shapes what a parse of a file yields."""
    doc = json.dumps({"cache_version": CACHE_VERSION, **parts}, sort_keys=True, default=repr)
    return hashlib.sha256(doc.encode()).hexdigest()


def secret_fingerprint(secret: bytes) -> str:
    """Tells PII keys apart without revealing them (hashed tokens depend on the key)."""
    return hashlib.sha256(b"aifactory-scan-cache\x00" + secret).hexdigest()[:16]


class ScanCache:
    """The cache of one source root: token of a file path (relative to the root) -> FileEntry."""

    def __init__(self, path: Path, context: str, key: bytes = b"") -> None:
        self.path, self.context, self.key = path, context, key
        self.entries: dict[str, FileEntry] = {}
        self._dirty = False

    @classmethod
    def open(cls, folder: Path, *, root_uri: str, tenant: str, context: str, key: bytes = b"") -> ScanCache:
        """The cache of `root_uri` for `tenant` under `folder`; empty when there is
        none, when it was written under another context, or when it cannot be read.
        `key` (the tenant's PII key) keys the tokens of paths."""
        name = hashlib.sha256(f"{tenant}\x00{root_uri}".encode()).hexdigest()[:24]
        cache = cls(folder / f"scan-{name}.json", context, key)
        try:
            doc = json.loads(cache.path.read_text(encoding="utf-8"))
            if doc.get("context") != context:
                log.info("scan cache %s was written under other settings; scanning in full", cache.path)
                return cache
            cache.entries = {str(token): FileEntry.from_json(v) for token, v in doc["files"].items()}
        except FileNotFoundError:
            pass
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("scan cache %s cannot be read (%s); scanning in full", cache.path, exc)
            cache.entries = {}
        return cache

    def token(self, rel: str) -> str:
        """The key of a path: a keyed hash, so the path is neither kept nor redacted."""
        return hmac.new(self.key, rel.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()[:32]

    def get(self, token: str) -> FileEntry | None:
        return self.entries.get(token)

    def put(self, token: str, entry: FileEntry) -> None:
        if self.entries.get(token) != entry:
            self.entries[token] = entry
            self._dirty = True

    def forget(self, token: str) -> None:
        if self.entries.pop(token, None) is not None:
            self._dirty = True

    def retain(self, tokens: set[str]) -> None:
        """Drop the entries of files the folder no longer holds (given by their tokens)."""
        for token in set(self.entries) - tokens:
            self.forget(token)

    def save(self) -> None:
        """Write the cache atomically (temp file, fsync, rename), if it changed. A
        failure to write is logged, not raised: the next scan is merely slower."""
        if not self._dirty:
            return
        doc = {"version": CACHE_VERSION, "context": self.context,
               "files": {token: e.to_json() for token, e in sorted(self.entries.items())}}
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("w", encoding="utf-8") as fh:
                json.dump(doc, fh, separators=(",", ":"))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            self._dirty = False
        except OSError as exc:
            log.warning("cannot write the scan cache %s: %s", self.path, exc)
            with contextlib.suppress(OSError):
                tmp.unlink()
