"""The keys a lake table holds, on disk, so that a lander can ask whether a row is
landed without loading every key of the table into memory.

A SQLite file per table, beside the lake (`<lake>/_keys/<table>.sqlite`), lists the
table's files it has read and every key in them. Lake files are written once under a
name of their own and never change, so bringing it up to date reads the key column of
the files added since; a file it read that is gone (compaction, erasure, repair rewrote
the table) means a rebuild from every file. Landers in several processes share the file
(SQLite's WAL lets them read while one writes). The index is a cache of the lake, never
the truth: deleting it costs one rebuild.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from ingest.lake import Lake, TableSpec

BUSY_MS = 30_000
READ_FILES = 256  # lake files read per pass while catching up
LOOKUP = 500  # keys per query (SQLite's bound on parameters is 32,766; smaller keeps statements short)
SCHEMA = """
CREATE TABLE IF NOT EXISTS files (name TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS keys (key TEXT PRIMARY KEY) WITHOUT ROWID;
"""


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, taking SQLite's write lock at its start."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class KeyIndex:
    def __init__(self, lake: Lake, spec: TableSpec) -> None:
        self.lake, self.spec = lake, spec
        self.path = lake.root / "_keys" / f"{spec.name}.sqlite"
        self._db: sqlite3.Connection | None = None  # opened when there is something to hold
        self._lock = threading.Lock()
        self.files_read = 0  # lake files whose keys this process read: the cost of keeping up

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=BUSY_MS / 1000, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # a lost tail is re-read from the lake
            db.executescript(SCHEMA)
            self._db = db
        return self._db

    def refresh(self) -> None:
        """Take in the files the table gained since; rebuild when one it read is gone."""
        if self._db is None and not self.path.exists() and not self.lake.files(self.spec):
            return  # an empty table: nothing to hold, and no file made for it
        with self._lock:
            db = self._open()
            # Under the write lock, and `known` before the listing: a file another process
            # recorded is then in the listing unless it is really gone.
            with transaction(db):
                known = {name for (name,) in db.execute("SELECT name FROM files")}
                now = set(self.lake.files(self.spec))
                if not known <= now:
                    db.execute("DELETE FROM files")
                    db.execute("DELETE FROM keys")
                    known = set()
                new = sorted(now - known)
                for start in range(0, len(new), READ_FILES):
                    part = new[start:start + READ_FILES]
                    keys = self.lake.dataset_of(part, self.spec.schema).to_table(columns=[self.spec.key])
                    db.executemany("INSERT OR IGNORE INTO keys VALUES (?)",
                                   ((k,) for k in keys.column(0).to_pylist()))
                    db.executemany("INSERT OR IGNORE INTO files VALUES (?)", ((n,) for n in part))
            self.files_read += len(new)

    def land(self, keys: Iterable[str], write: Callable[[set[str]], list[str]]) -> set[str]:
        """Land those of `keys` the table does not hold, one writer of the table at a time
        in any process: under the index's write lock, `write(new)` writes their rows and
        returns its files, recorded with `new` before the lock is let go. Two members that
        both read a row (in a rebalance the broker may hand a partition on before its old
        owner lets go) then land it, and meter it, once. Returns `new`."""
        wanted = list(keys)
        with self._lock:
            db = self._open()
            with transaction(db):
                new = set(wanted) - self._found(db, wanted)
                if new:
                    files = write(new)
                    db.executemany("INSERT OR IGNORE INTO keys VALUES (?)", ((k,) for k in new))
                    db.executemany("INSERT OR IGNORE INTO files VALUES (?)", ((n,) for n in files))
        return new

    def landed(self, keys: Iterable[str]) -> set[str]:
        """Which of `keys` the table holds (as of the last refresh or land)."""
        with self._lock:
            if self._db is None and not self.path.exists():
                return set()
            return self._found(self._open(), list(keys))

    @staticmethod
    def _found(db: sqlite3.Connection, wanted: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(wanted), LOOKUP):
            part = wanted[start:start + LOOKUP]
            marks = ",".join("?" * len(part))
            found.update(k for (k,) in db.execute(f"SELECT key FROM keys WHERE key IN ({marks})", part))
        return found

    def count(self) -> int:
        with self._lock:
            if self._db is None and not self.path.exists():
                return 0
            return int(self._open().execute("SELECT count(*) FROM keys").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
