"""One writer at a time per data directory: others queue, or are refused naming the holder."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pipeline.writer import WriterBusyError, holder, writing

TRY = ("import pathlib, sys; from pipeline.writer import writing, WriterBusyError\n"
       "try:\n"
       "    with writing(pathlib.Path(sys.argv[1]), wait=False, command='second'):\n"
       "        print('GOT IT')\n"
       "except WriterBusyError as exc:\n"
       "    print('REFUSED', exc)\n")


def test_another_process_is_refused_naming_the_holder_and_gets_it_once_released(tmp_path: Path) -> None:
    with writing(tmp_path, command="aifactory run docs"):
        who = holder(tmp_path)
        assert who is not None and who.pid == os.getpid() and who.command == "aifactory run docs"
        out = subprocess.run([sys.executable, "-c", TRY, str(tmp_path)], capture_output=True, text=True,
                             timeout=60).stdout
        assert out.startswith("REFUSED") and f"pid {os.getpid()}" in out and "aifactory run docs" in out, out
    assert holder(tmp_path) is None
    out = subprocess.run([sys.executable, "-c", TRY, str(tmp_path)], capture_output=True, text=True,
                         timeout=60).stdout
    assert out.strip() == "GOT IT"


def test_a_run_inside_a_run_is_the_same_writer(tmp_path: Path) -> None:
    with writing(tmp_path), writing(tmp_path, wait=False):  # a delete is a run: no self-deadlock
        assert holder(tmp_path) is not None


def test_threads_of_one_process_take_turns(tmp_path: Path) -> None:
    order: list[str] = []
    inside = threading.Event()

    def first() -> None:
        with writing(tmp_path, command="api delete"):
            inside.set()
            time.sleep(0.3)
            order.append("first")

    t = threading.Thread(target=first)
    t.start()
    inside.wait(5)
    with writing(tmp_path):
        order.append("second")
    t.join()
    assert order == ["first", "second"]


def test_a_writer_asked_not_to_wait_in_another_thread_is_refused(tmp_path: Path) -> None:
    inside, done = threading.Event(), threading.Event()

    def hold() -> None:
        with writing(tmp_path):
            inside.set()
            done.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    inside.wait(5)
    try:
        with pytest.raises(WriterBusyError), writing(tmp_path, wait=False):
            pass
    finally:
        done.set()
        t.join()


def test_writing_to_one_home_does_not_hold_another(tmp_path: Path) -> None:
    with writing(tmp_path / "a"):
        out = subprocess.run([sys.executable, "-c", TRY, str(tmp_path / "b")], capture_output=True, text=True,
                             timeout=60).stdout
        assert out.strip() == "GOT IT"
        with writing(tmp_path / "b", wait=False):  # this thread, another home: its own lock
            assert holder(tmp_path / "b") is not None
