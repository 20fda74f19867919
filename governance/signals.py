"""Threat signals the pipeline raises for the API's metrics to count: chunks quarantined by
injection screening, records refused by residency, lake files quarantined as damaged.

Each is a JSON line appended (O_APPEND, so landers in several processes may share the
file) to `<home>/state/signals.jsonl`: time, kind, tenant, how many. The API reads the
file from where it stopped at each scrape, so a scrape costs the lines since the last
one, not the history; a file cut shorter (rotated) is read again from its start.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from pathlib import Path

from governance.contracts import utcnow

KINDS = ("injection", "residency", "lake_file")


class SignalLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._offset = 0
        self._totals: Counter[tuple[str, str]] = Counter()

    def raise_(self, kind: str, counts: dict[str, int]) -> None:
        """Record `counts` (tenant -> how many) of one kind of signal; nothing when all are 0."""
        lines = [json.dumps({"at": utcnow().isoformat(), "kind": kind, "tenant": tenant, "n": n}) + "\n"
                 for tenant, n in sorted(counts.items()) if n > 0]
        if not lines:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, "".join(lines).encode())  # one write: lines of two processes never interleave
        finally:
            os.close(fd)

    def totals(self) -> dict[tuple[str, str], int]:
        """(kind, tenant) -> how many since the file began, reading only what was added."""
        with self._lock:
            try:
                size = self.path.stat().st_size
            except FileNotFoundError:
                return dict(self._totals)
            if size < self._offset:  # cut shorter: start again
                self._offset, self._totals = 0, Counter()
            with self.path.open("rb") as fh:
                fh.seek(self._offset)
                data = fh.read(size - self._offset)
            whole = data[: data.rfind(b"\n") + 1]  # a line still being written waits for the next scrape
            self._offset += len(whole)
            for line in whole.splitlines():
                try:
                    row = json.loads(line)
                    self._totals[(str(row["kind"]), str(row["tenant"]))] += int(row["n"])
                except (ValueError, KeyError, TypeError):
                    continue  # a damaged line is skipped, not fatal to the scrape
            return dict(self._totals)
