"""Wake the resident mode when a source folder changes, instead of at the next poll.

A `Watcher` watches each source root recursively (watchdog: inotify on Linux) and
`wait` returns as soon as a change is seen and has been quiet for a moment, so a
burst of edits (an editor's save, a copy of many files) goes into one cycle:

    with Watcher([s.root for s in sources], ignore=[home]) as watcher:
        while not stop.is_set():
            cycle()
            watcher.wait(interval_s, stop)

The interval stays as the fallback: events can be missed (network filesystems, a
full inotify watch table), and a folder that cannot be watched is only polled.
Events that cannot change what a scan sees are dropped: reads (the scan's own
opens), a folder's "modified" (the entry that changed has its own event), hidden
files and folders (the scan skips them), and anything under the ignored folders
(the factory's data directory when it lies inside a source).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from watchdog.events import (
    EVENT_TYPE_CLOSED_NO_WRITE,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_OPENED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

log = logging.getLogger(__name__)

QUIET_S = 0.02  # a change is acted on once the folders have been quiet this long...
MAX_DEBOUNCE_S = 0.25  # ...or this long after it was first seen, whichever comes first
STOP_CHECK_S = 0.1  # how often a wait looks at the stop event
JOIN_S = 5.0  # how long `stop` waits for the observer thread
READS = frozenset({EVENT_TYPE_OPENED, EVENT_TYPE_CLOSED_NO_WRITE})


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: Watcher, root: Path) -> None:
        self.watcher, self.root = watcher, root

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in READS or (event.is_directory and event.event_type == EVENT_TYPE_MODIFIED):
            return  # a folder's own "modified" comes with an event for the entry that changed in it
        paths = [event.src_path, getattr(event, "dest_path", "") or ""]
        if any(self.watcher.relevant(self.root, Path(str(p))) for p in paths if p):
            self.watcher.changed()


class Watcher:
    """Watches folders recursively; `wait` returns early when something in them changed."""

    def __init__(self, roots: Iterable[Path], *, ignore: Iterable[Path] = ()) -> None:
        self.roots = sorted({Path(r).resolve() for r in roots})
        self.ignore = [Path(p).resolve() for p in ignore]
        self.watched: list[Path] = []
        self._changed = threading.Event()
        self._observer: BaseObserver | None = None

    def relevant(self, root: Path, path: Path) -> bool:
        """Whether a change at `path` (under `root`) can change what a scan sees."""
        if any(path.is_relative_to(p) for p in self.ignore):
            return False
        try:
            parts = path.relative_to(root).parts
        except ValueError:
            return True  # watchdog gave a path we cannot place: err on the side of a cycle
        return not any(part.startswith(".") for part in parts)

    def changed(self) -> None:
        self._changed.set()

    def start(self) -> Watcher:
        observer = Observer()
        for root in self.roots:
            if not root.is_dir():
                log.warning("cannot watch %s (not a folder); it is rescanned every interval", root)
                continue
            try:
                observer.schedule(_Handler(self, root), str(root), recursive=True)
            except OSError as exc:  # e.g. the inotify watch limit: polling still covers it
                log.warning("cannot watch %s (%s); it is rescanned every interval", root, exc)
                continue
            self.watched.append(root)
        if self.watched:
            observer.daemon = True
            observer.start()
            self._observer = observer
        return self

    def stop(self) -> None:
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(JOIN_S)

    def __enter__(self) -> Watcher:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def wait(self, timeout_s: float, stop: threading.Event) -> bool:
        """Wait until a change (then until it has been quiet for QUIET_S, at most
        MAX_DEBOUNCE_S), `timeout_s`, or `stop`. True when a change ended the wait.
        A change seen while the caller was busy ends the next wait at once."""
        deadline = time.monotonic() + timeout_s
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self._changed.wait(min(left, STOP_CHECK_S)):
                break
        else:
            return False
        first = time.monotonic()
        self._changed.clear()
        while time.monotonic() - first < MAX_DEBOUNCE_S and not stop.is_set():
            if not self._changed.wait(min(QUIET_S, MAX_DEBOUNCE_S - (time.monotonic() - first))):
                break  # quiet
            self._changed.clear()
        return True
