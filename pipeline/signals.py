"""Stopping a long-lived command (resident mode, `aifactory up`, a worker) on a signal."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def stop_on_signal() -> Iterator[threading.Event]:
    """An event the first SIGINT or SIGTERM sets (the work stops at its next safe
    point); a second one raises KeyboardInterrupt at once."""
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        # Event.set takes a lock the interrupted main thread may hold: set it from a thread.
        threading.Thread(target=stop.set, name="stop").start()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
