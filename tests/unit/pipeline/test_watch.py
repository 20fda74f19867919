"""The source watcher: a change ends the wait early, once; reads, hidden files and
the data directory do not; the interval and the stop event still end it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from pipeline.watch import MAX_DEBOUNCE_S, Watcher

INTERVAL_S = 10.0


def timed_wait(watcher: Watcher, timeout_s: float = INTERVAL_S,
               stop: threading.Event | None = None) -> tuple[bool, float]:
    started = time.monotonic()
    woke = watcher.wait(timeout_s, stop or threading.Event())
    return woke, time.monotonic() - started


def test_a_change_ends_the_wait_and_a_read_or_hidden_file_does_not(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    doc = tmp_path / "docs" / "a.md"
    doc.write_text("# A\n")
    with Watcher([tmp_path]) as watcher:
        assert watcher.watched == [tmp_path.resolve()]
        doc.read_text()
        (tmp_path / ".a.md.swp").write_text("editor state")
        (tmp_path / "docs" / ".cache").mkdir()
        (tmp_path / "docs" / ".cache" / "x").write_text("x")
        woke, seconds = timed_wait(watcher, 0.5)
        assert not woke and seconds >= 0.5

        threading.Timer(0.2, lambda: doc.write_text("# A\nrevised\n")).start()
        woke, seconds = timed_wait(watcher)
        assert woke and seconds < 2.0


def test_a_burst_of_edits_ends_one_wait(tmp_path: Path) -> None:
    with Watcher([tmp_path]) as watcher:
        for n in range(20):
            (tmp_path / f"{n}.md").write_text(f"# {n}\n")
        woke, seconds = timed_wait(watcher)
        assert woke and seconds < MAX_DEBOUNCE_S + 1.0
        woke, seconds = timed_wait(watcher, 0.5)
        assert not woke, "the burst woke a second wait"


def test_a_change_made_while_busy_ends_the_next_wait_at_once(tmp_path: Path) -> None:
    with Watcher([tmp_path]) as watcher:
        (tmp_path / "new.md").write_text("# New\n")
        time.sleep(0.5)  # the caller is in a cycle
        woke, seconds = timed_wait(watcher)
        assert woke and seconds < MAX_DEBOUNCE_S + 0.5


def test_the_data_directory_inside_a_source_is_ignored(tmp_path: Path) -> None:
    home = tmp_path / "factory-home"
    (home / "lake").mkdir(parents=True)
    with Watcher([tmp_path], ignore=[home]) as watcher:
        (home / "lake" / "part-0.parquet").write_bytes(b"PAR1")
        woke, _ = timed_wait(watcher, 0.5)
        assert not woke


def test_the_stop_event_ends_the_wait_and_a_missing_folder_is_only_polled(tmp_path: Path) -> None:
    stop = threading.Event()
    with Watcher([tmp_path / "missing"]) as watcher:
        assert watcher.watched == []
        threading.Timer(0.2, stop.set).start()
        woke, seconds = timed_wait(watcher, stop=stop)
        assert not woke and seconds < 2.0
        woke, seconds = timed_wait(watcher, 0.3)
        assert not woke and 0.3 <= seconds < 2.0
