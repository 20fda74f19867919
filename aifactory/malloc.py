"""glibc malloc arenas for the long-running processes (`aifactory serve`, `run --follow`).

glibc gives every thread that allocates an arena of its own, up to 8 per core, and
memory freed in an arena stays with that arena (only its top is given back). The vector
API answers on a pool of threads (anyio's, which come and go) that each run the embedding
model, and the follower, the landers and the index's threads allocate beside them, so
with the default limit the serving process's RSS climbed under a steady load whose data
did not grow (issue 9's soak, `--feed edit`: about +15 MB/min over 5 minutes, 16 arenas
holding ~790 MB from the system with ~250 MB in use) while Python's own heap stayed
flat (tracemalloc: under 3 MB/min). With 2 arenas the climb fell to ~4-5 MB/min,
part of it rows the landers keep (see ingest/landing.py). The limit is set
with mallopt at start, before the threads exist; MALLOC_ARENA_MAX in the environment,
the operator's own choice, wins.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

ARENA_MAX = 2
M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


def limit_arenas(n: int = ARENA_MAX) -> bool:
    """Cap glibc's malloc arenas at `n` for threads that start from now on. Returns
    whether the cap was set: not without glibc, nor when MALLOC_ARENA_MAX is set."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 - glibc only (musl has no arenas to cap)
    except (OSError, AttributeError):
        return False
    return bool(libc.mallopt(M_ARENA_MAX, n))
