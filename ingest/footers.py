"""The lake files whose Parquet footer has been read and found sound, remembered on
disk so that each new process does not read every footer of the lake again.

A one-shot run is a new process: before, it read the footer of every file of every
table it queried (`Lake.stored` moves a truncated or garbled file aside instead of
failing every query), a cost that grew with the lake, not with the change. Lake files
are written once under a name of their own, so a file with the same key, size and
mtime is the file that was checked (a file damaged in place with its size and mtime
unchanged, bit rot, then fails the query that reads it instead of being moved aside).
The memo is a cache, never the truth: a lost or torn line means one footer read again.
Processes on one home append to it (one line per write, O_APPEND); past MAX_BYTES it
starts over.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

log = logging.getLogger(__name__)

MAX_BYTES = 16 << 20  # about 150,000 files; compacted-away files' lines accumulate until then

Checked = tuple[str, int, int]  # key, size, mtime_ns


class ReadFooters:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: set[Checked] | None = None
        self._lock = threading.Lock()

    def _load(self) -> set[Checked]:
        if self._seen is None:
            seen: set[Checked] = set()
            try:
                if self.path.stat().st_size > MAX_BYTES:
                    self.path.unlink()
                else:
                    for line in self.path.read_text(encoding="utf-8").splitlines():
                        try:
                            key, size, mtime = json.loads(line)
                            seen.add((str(key), int(size), int(mtime)))
                        except (ValueError, TypeError):
                            continue  # a torn line: that footer is read again
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.debug("cannot read %s (%s); footers are read again", self.path, exc)
            self._seen = seen
        return self._seen

    def __contains__(self, item: Checked) -> bool:
        with self._lock:
            return item in self._load()

    def add(self, item: Checked) -> None:
        with self._lock:
            seen = self._load()
            if item in seen:
                return
            seen.add(item)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
                try:
                    os.write(fd, (json.dumps(list(item)) + "\n").encode())
                finally:
                    os.close(fd)
            except OSError as exc:  # a read-only lake folder: this process still remembers
                log.debug("cannot write %s (%s)", self.path, exc)
