"""The serving process caps glibc's malloc arenas (aifactory/malloc.py): without the cap
every thread of the API's pool got an arena of its own, and the RSS kept climbing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# Twelve threads allocate at once; malloc_stats (on stderr) lists one "Arena" per arena.
PROBE = """
import ctypes, sys, threading
if sys.argv[1] == "limit":
    from aifactory.malloc import limit_arenas
    assert limit_arenas(2)
barrier = threading.Barrier(12)
keep = []
def work():
    barrier.wait()
    keep.append(bytearray(64 * 1024))
    barrier.wait()
threads = [threading.Thread(target=work) for _ in range(12)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL("libc.so.6").malloc_stats()
"""


def arenas(mode: str, **env: str) -> int:
    base = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run([sys.executable, "-c", PROBE, mode], env={**base, **env}, capture_output=True, text=True,
                          check=True, timeout=60)
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


@pytest.mark.skipif(not sys.platform.startswith("linux") or not os.confstr("CS_GNU_LIBC_VERSION"),
                    reason="glibc only")
def test_threads_share_two_arenas_once_limited() -> None:
    assert arenas("none") > 2  # the default: an arena per thread, up to 8 per core
    assert arenas("limit") == 2


def test_the_operators_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    from aifactory.malloc import limit_arenas

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_arenas() is False
