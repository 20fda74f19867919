"""The small columns of every chunk row, on disk, so that a sync of a few changed documents
finds their duplicate families without reading every chunk file of their tenants.

A SQLite file beside the lake (`<lake>/_keys/chunk_families.sqlite`) holds, per chunk
row, its id, tenant, document, version, op, reader key and file, and per document its
latest version and how many upsert chunks that version has. Lake files are written once
and rewritten only under a new name or with a new size and time, so bringing it up to
date reads the small columns of the files added since and drops the rows of the files
gone (compaction, erasure, repair). It is a cache of the lake, never the truth: deleting
it costs one rebuild. Deleted rows are overwritten on disk (secure_delete, and the WAL
truncated after a removal), so an erasure leaves no document id behind in it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ingest.key_index import BUSY_MS, LOOKUP, READ_FILES, transaction
from ingest.lake import Lake
from transforms.tables import CHUNKS

COLUMNS = ["row_id", "document_id", "version", "op", "reader_key"]
SCHEMA = """
CREATE TABLE IF NOT EXISTS files (name TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rows (row_id TEXT, tenant TEXT, document_id TEXT, version INTEGER, op TEXT,
                                 reader_key TEXT, file TEXT);
CREATE INDEX IF NOT EXISTS rows_by_file ON rows (file);
CREATE INDEX IF NOT EXISTS rows_by_document ON rows (document_id);
CREATE INDEX IF NOT EXISTS rows_by_reader_key ON rows (reader_key);
CREATE TABLE IF NOT EXISTS documents (document_id TEXT PRIMARY KEY, tenant TEXT, version INTEGER,
                                      current INTEGER) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS documents_by_tenant ON documents (tenant);
CREATE TEMP TABLE IF NOT EXISTS touched (document_id TEXT PRIMARY KEY) WITHOUT ROWID;
"""
# A touched document's latest version (tombstones count) and its upsert chunks of it.
_RECOUNT_SQL = """
INSERT OR REPLACE INTO documents
SELECT r.document_id, max(r.tenant), l.version, sum(r.op = 'upsert' AND r.version = l.version)
FROM rows r JOIN (SELECT document_id, max(version) AS version FROM rows
                  WHERE document_id IN (SELECT document_id FROM touched) GROUP BY document_id) l USING (document_id)
GROUP BY r.document_id
"""
_GONE_SQL = """
DELETE FROM documents WHERE document_id IN (SELECT document_id FROM touched)
AND NOT EXISTS (SELECT 1 FROM rows r WHERE r.document_id = documents.document_id)
"""
# Current rows: upserts of their document's latest version.
_CURRENT = "r.op = 'upsert' AND r.version = (SELECT version FROM documents d WHERE d.document_id = r.document_id)"


@dataclass(frozen=True)
class Members:
    """The current rows of some documents' duplicate families, and each tenant's current chunks."""

    rows: list[tuple[str, str]]  # (row_id, lake file)
    current: dict[str, int]


class FamilyIndex:
    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self.path = lake.root / "_keys" / "chunk_families.sqlite"
        self.files_read = 0  # lake files whose columns this process read: the cost of keeping up

    @contextmanager
    def _open(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=BUSY_MS / 1000, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # a lost tail is read again from the lake
            db.execute("PRAGMA secure_delete=ON")  # erased document ids do not linger in free pages
            db.executescript(SCHEMA)
            yield db
        finally:
            db.close()

    def refresh(self) -> None:
        """Take in the chunk files added or rewritten since, and drop the rows of those gone."""
        if not self.path.exists() and not self.lake.files(CHUNKS):
            return  # an empty table: nothing to hold, and no file made for it
        with self._open() as db:
            self._refresh(db)

    def _refresh(self, db: sqlite3.Connection) -> None:
        with transaction(db):
            known = {name: (size, mtime) for name, size, mtime in db.execute("SELECT * FROM files")}
            now = {f.key: (f.size, f.mtime_ns) for f in self.lake.stored(CHUNKS)}
            gone = [name for name, seen in known.items() if now.get(name) != seen]
            new = sorted(name for name, seen in now.items() if known.get(name) != seen)
            db.execute("DELETE FROM touched")
            for start in range(0, len(gone), LOOKUP):
                part = gone[start:start + LOOKUP]
                marks = ",".join("?" * len(part))
                db.execute(f"INSERT OR IGNORE INTO touched SELECT document_id FROM rows WHERE file IN ({marks})", part)
                db.execute(f"DELETE FROM rows WHERE file IN ({marks})", part)
                db.execute(f"DELETE FROM files WHERE name IN ({marks})", part)
            for start in range(0, len(new), READ_FILES):
                part = new[start:start + READ_FILES]
                table = self.lake.dataset_of(part, CHUNKS.schema).to_table(columns=[*COLUMNS, "__filename"])
                path_key = {self.lake.store.place(key).path(key): key for key in part}
                columns = [table.column(c).to_pylist() for c in COLUMNS]
                files = [path_key[p] for p in table.column("__filename").to_pylist()]
                # The tenant of the file's partition (what a sync's scope selects files by).
                db.executemany("INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?, ?)",
                               ((r, _tenant(f), d, v, o, k or "", f) for r, d, v, o, k, f in zip(*columns, files,
                                                                                                strict=True)))
                db.executemany("INSERT OR IGNORE INTO touched VALUES (?)", ((d,) for d in set(columns[1])))
                db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?)", ((n, *now[n]) for n in part))
            if gone or new:
                db.execute(_RECOUNT_SQL)
                db.execute(_GONE_SQL)
        if gone:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the removed rows' old pages leave the WAL too
        self.files_read += len(new)

    def members(self, tenants: Collection[str], documents: Collection[str]) -> Members | None:
        """The current rows of `documents` and every current row of `tenants` sharing a reader
        key with one of their chunks (now, or in an earlier version), with their files; and each
        tenant's current chunks. None when some of the tenants' rows have no reader key (written
        before it was kept): the caller compares the tenants whole."""
        if not self.path.exists() and not self.lake.files(CHUNKS):
            return Members([], {})
        with self._open() as db:
            self._refresh(db)
            ts, docs = sorted(tenants), sorted(documents)
            t_marks = ",".join("?" * len(ts))
            unkeyed = db.execute(f"SELECT count(*) FROM rows WHERE reader_key = '' AND op = 'upsert' "
                                 f"AND tenant IN ({t_marks})", ts).fetchone()[0]
            if unkeyed:
                return None
            current = {t: int(n) for t, n in db.execute(
                f"SELECT tenant, sum(current) FROM documents WHERE tenant IN ({t_marks}) GROUP BY tenant", ts)
                if n}
            keys = sorted(k for (k,) in _lookup(db, "SELECT DISTINCT reader_key FROM rows WHERE op = 'upsert' "
                                                "AND document_id IN ({})", docs))
            found = _lookup(db, "SELECT r.row_id, r.file, r.tenant FROM rows r WHERE document_id IN ({}) AND "
                            + _CURRENT, docs) | _lookup(
                db, "SELECT r.row_id, r.file, r.tenant FROM rows r WHERE reader_key IN ({}) AND " + _CURRENT, keys)
            rows = sorted((row_id, file) for row_id, file, tenant in found if tenant in ts)
            return Members(rows, current)


def _tenant(key: str) -> str:
    return next((part[len("tenant="):] for part in key.split("/") if part.startswith("tenant=")), "")


def _lookup(db: sqlite3.Connection, sql: str, values: list[str]) -> set[tuple[str, ...]]:
    """The rows of `sql` (its IN list filled with `values`, a bounded number at a time)."""
    out: set[tuple[str, ...]] = set()
    for start in range(0, len(values), LOOKUP):
        part = values[start:start + LOOKUP]
        out.update(db.execute(sql.format(",".join("?" * len(part))), part).fetchall())
    return out
