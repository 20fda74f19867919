"""The scan cache: what each file of a source produced last time, so that a file
whose bytes have not changed is not parsed again.

Per source root (and tenant) one JSON file under the data directory holds, for
each file, its size, mtime and the sha256 of its bytes, and the (document id,
content hash) of every document it produced. A file is skipped only when its
bytes hash to the same digest *and* each of its documents is still the latest
upsert in the raw lake with that content hash; the scan checks the second part
(see `ingest.sources.scan`). The raw lake stays the truth: the cache only saves
parsing. Anything that shapes what a parse yields (parser version, limits,
record fields, tenant, jurisdiction, privacy policy, PII key) is part of the
cache's context; when it differs, the whole cache is ignored. A missing, stale or
corrupt cache file just means a full scan.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CACHE_VERSION = 1


@dataclass(frozen=True)
class FileEntry:
    """What one file was, and which documents it produced (id, content hash)."""

    size: int
    mtime_ns: int
    sha256: str
    docs: tuple[tuple[str, str], ...]

    def to_json(self) -> list[Any]:
        return [self.size, self.mtime_ns, self.sha256, [list(d) for d in self.docs]]

    @classmethod
    def from_json(cls, value: Any) -> FileEntry:
        size, mtime_ns, sha256, docs = value
        return cls(int(size), int(mtime_ns), str(sha256), tuple((str(d), str(h)) for d, h in docs))


def context_fingerprint(**parts: Any) -> str:
    """One digest of everything that shapes what a parse of a file yields."""
    doc = json.dumps({"cache_version": CACHE_VERSION, **parts}, sort_keys=True, default=repr)
    return hashlib.sha256(doc.encode()).hexdigest()


def secret_fingerprint(secret: bytes) -> str:
    """Tells PII keys apart without revealing them (hashed tokens depend on the key)."""
    return hashlib.sha256(b"aifactory-scan-cache\x00" + secret).hexdigest()[:16]


class ScanCache:
    """The cache of one source root: file path (relative to the root) -> FileEntry."""

    def __init__(self, path: Path, context: str) -> None:
        self.path, self.context = path, context
        self.entries: dict[str, FileEntry] = {}
        self._dirty = False

    @classmethod
    def open(cls, folder: Path, *, root_uri: str, tenant: str, context: str) -> ScanCache:
        """The cache of `root_uri` for `tenant` under `folder`; empty when there is
        none, when it was written under another context, or when it cannot be read."""
        name = hashlib.sha256(f"{tenant}\x00{root_uri}".encode()).hexdigest()[:24]
        cache = cls(folder / f"scan-{name}.json", context)
        try:
            doc = json.loads(cache.path.read_text(encoding="utf-8"))
            if doc.get("context") != context:
                log.info("scan cache %s was written under other settings; scanning in full", cache.path)
                return cache
            cache.entries = {str(rel): FileEntry.from_json(v) for rel, v in doc["files"].items()}
        except FileNotFoundError:
            pass
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("scan cache %s cannot be read (%s); scanning in full", cache.path, exc)
            cache.entries = {}
        return cache

    def get(self, rel: str) -> FileEntry | None:
        return self.entries.get(rel)

    def put(self, rel: str, entry: FileEntry) -> None:
        if self.entries.get(rel) != entry:
            self.entries[rel] = entry
            self._dirty = True

    def forget(self, rel: str) -> None:
        if self.entries.pop(rel, None) is not None:
            self._dirty = True

    def retain(self, rels: set[str]) -> None:
        """Drop the entries of files the folder no longer holds."""
        for rel in set(self.entries) - rels:
            self.forget(rel)

    def save(self) -> None:
        """Write the cache atomically (temp file, fsync, rename), if it changed. A
        failure to write is logged, not raised: the next scan is merely slower."""
        if not self._dirty:
            return
        doc = {"version": CACHE_VERSION, "context": self.context,
               "files": {rel: e.to_json() for rel, e in sorted(self.entries.items())}}
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
