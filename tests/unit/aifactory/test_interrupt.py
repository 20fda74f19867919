"""Ctrl-C during a DuckDB query is an interruption (exit 130), not an unexpected error:
DuckDB turns the KeyboardInterrupt into an error of its own, which the CLI must still
read as the interruption."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import duckdb
import pyarrow as pa
import pytest

from aifactory.cli import CtrlC


@pytest.fixture(autouse=True)
def default_sigint() -> Iterator[None]:
    """As a command line starts: an earlier test in this process may have left its own handler."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def interrupted_query(sql: str, con: duckdb.DuckDBPyConnection) -> Exception:
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(Exception) as caught:  # DuckDB's, not a KeyboardInterrupt
            con.execute(sql).fetchall()
    finally:
        timer.join()
    return caught.value


def test_ctrl_c_inside_a_duckdb_query_is_seen_as_an_interruption() -> None:
    with CtrlC() as ctrl_c:
        # Seconds of work: should the signal be missed, the test fails instead of hanging.
        error = interrupted_query("SELECT sum(hash(a)) FROM range(1000000000) t(a)", duckdb.connect())
    assert ctrl_c.seen, error
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # given back


def test_ctrl_c_inside_a_scan_of_a_python_object_is_seen_as_an_interruption() -> None:
    schema = pa.schema([("n", pa.int64())])

    def slow() -> Iterator[pa.RecordBatch]:
        for n in range(1000):
            time.sleep(0.01)
            yield pa.record_batch([pa.array([n])], schema=schema)

    con = duckdb.connect()
    con.register("chunks", pa.RecordBatchReader.from_batches(schema, slow()))
    with CtrlC() as ctrl_c:
        error = interrupted_query("SELECT count(*) FROM chunks", con)
    assert ctrl_c.seen and "KeyboardInterrupt" in str(error)


def test_no_ctrl_c_no_interruption() -> None:
    with CtrlC() as ctrl_c:
        assert duckdb.connect().execute("SELECT 1").fetchall() == [(1,)]
    assert not ctrl_c.seen
