"""Monthly budgets per tenant (the quota file's `monthly_budget`, in the price book's
currency): what a tenant has spent this UTC month, priced like its usage report. Reading
the whole ledger per request would cost more than the query, so the API asks `Spend`,
which keeps each tenant's figure for SPEND_TTL_S seconds.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from governance.pricing import load_price_book
from pipeline.factory import Factory
from pipeline.usage_report import UnknownTenantError, usage

SPEND_TTL_S = 30.0


def month_spend(factory: Factory, tenant: str) -> float:
    """The tenant's cost so far this UTC month (0 when it was never metered)."""
    book = load_price_book(factory.settings.price_book)
    try:
        return float(usage(factory.ledger, book, datetime.now(UTC).strftime("%Y-%m"), tenant=tenant)["total"])
    except UnknownTenantError:
        return 0.0


class Spend:
    """`month_spend` per tenant, kept for `ttl` seconds."""

    def __init__(self, factory: Factory, ttl: float = SPEND_TTL_S) -> None:
        self.factory, self.ttl = factory, ttl
        self._seen: dict[str, tuple[float, float]] = {}  # tenant -> (spend, when)
        self._lock = threading.Lock()

    def __call__(self, tenant: str) -> float:
        now = time.monotonic()
        with self._lock:
            got = self._seen.get(tenant)
        if got is not None and now - got[1] < self.ttl:
            return got[0]
        spend = month_spend(self.factory, tenant)
        with self._lock:
            self._seen[tenant] = (spend, now)
        return spend
