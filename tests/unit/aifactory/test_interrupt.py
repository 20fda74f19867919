"""Ctrl-C during a DuckDB query is an interruption (exit 130), not an unexpected error."""

from __future__ import annotations

import os
import signal
import threading

import duckdb
import pytest

from aifactory.cli import query_interrupted


def test_ctrl_c_inside_a_duckdb_query_is_seen_as_an_interruption() -> None:
    con = duckdb.connect()
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(Exception) as caught:  # DuckDB swallows the KeyboardInterrupt
            con.execute("SELECT count(*) FROM range(100000000000) a, range(10) b").fetchall()
    finally:
        timer.join()
    assert query_interrupted(caught.value)
    try:
        raise ValueError("lake scan failed") from caught.value
    except ValueError as wrapped:
        assert query_interrupted(wrapped)
    assert not query_interrupted(RuntimeError("Catalog Error: no such table"))
