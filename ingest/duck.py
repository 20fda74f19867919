"""DuckDB connections for lake queries: cursors of one in-memory database per process.

Opening a new in-memory database costs tens of milliseconds (it allocates its buffer
manager and catalog); a cursor of a shared one costs well under one, and that is paid
by every lake read (a scan, `status`, a client's wait). A cursor is its own connection:
views registered on it are not seen by other cursors, and each thread can hold one.
"""

from __future__ import annotations

import threading

import duckdb

_lock = threading.Lock()
_base: duckdb.DuckDBPyConnection | None = None


def connect() -> duckdb.DuckDBPyConnection:
    """A fresh connection (close it, or use it in a `with`) to the process's database."""
    global _base
    with _lock:
        if _base is None:
            _base = duckdb.connect()
        return _base.cursor()
