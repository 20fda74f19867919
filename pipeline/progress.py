"""Progress a person at a terminal can follow: one line per stage as it starts and
ends, and a bar where the work is countable. Off (for --json and library callers),
it costs nothing. Lines go to stderr, so stdout stays the command's result."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from tqdm import tqdm


class Progress:
    def __init__(self, enabled: bool = False, *, out: TextIO | None = None) -> None:
        self.enabled = enabled
        self.out = out
        self.started = time.perf_counter()

    def stage(self, name: str, message: str) -> None:
        """`[  12.3 s] index    embedding 300 chunks`: elapsed time, stage, what it does."""
        if self.enabled:
            line = f"[{time.perf_counter() - self.started:7.1f} s] {name:<8} {message}"
            # tqdm.write keeps an open bar intact below the line.
            tqdm.write(line, file=self.out or sys.stderr)

    @property
    def bars(self) -> bool:
        """Bars redraw a line in place: only on a terminal (a log file gets the stage lines)."""
        return self.enabled and (self.out or sys.stderr).isatty()

    def bar(self, name: str, total: int, unit: str) -> Any:
        """A bar to `update(n)` and `close()`; disabled without a terminal or anything to count."""
        return tqdm(total=total, desc=f"{'':>11} {name:<8}", unit=unit, file=self.out or sys.stderr,
                    disable=not self.bars or total <= 0, leave=False, dynamic_ncols=True)


def as_progress(progress: bool | Progress) -> Progress:
    """Callers pass True/False or their own Progress (the CLI, to share its clock)."""
    return progress if isinstance(progress, Progress) else Progress(progress)
