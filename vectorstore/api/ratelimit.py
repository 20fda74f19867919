"""Rate limiting: a token bucket per key (or tenant), refilled continuously."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate, self.burst = rate_per_s, burst
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()

    def allow(self, key: str, rate: float | None = None, burst: int | None = None) -> float:
        """0.0 when the request may go ahead, else the seconds to wait before retrying.
        `rate` and `burst` override the limiter's own for this key (a tenant's quota,
        which may change between calls)."""
        rate = self.rate if rate is None else rate
        burst = self.burst if burst is None else burst
        if rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(burst), now))
            tokens = min(float(burst), tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / rate
