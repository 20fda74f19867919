"""The quotas held at the edge, before a scan publishes:

    ingest_tokens_per_day  each document of the tenant is counted in model tokens; one that
                           would pass the day's quota (UTC) waits. The day's use is the
                           ledger's ingest tokens of today (the lander meters tokens for
                           tenants with this quota) plus what this scan already let through.
    stored_vectors         once the tenant's points (its last storage figures) reach it, no
                           new document goes in until it deletes some or the quota rises.
    monthly_budget         once the tenant's cost this month reaches it, likewise.

A document that waits is a dead letter naming the quota; the raw lake does not hold it,
so a later scan sees it as new and publishes it once the quota allows. Deletes always pass.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime

from governance.contracts import DeadLetter, DocumentEvent
from governance.ledger import Ledger
from governance.quotas import Quota, QuotaBook, QuotaExceeded
from ingest.sources import IngestReport
from pipeline.budget import month_spend
from pipeline.factory import Factory
from transforms.tokens import token_counter


def stored_vectors(ledger: Ledger) -> dict[str, int]:
    """Points each tenant holds in the index, every region: its last storage snapshots."""
    latest: dict[tuple[str, str], int] = {}
    for e in ledger.entries():
        if e.event == "storage":
            latest[(e.tenant, e.region)] = e.vectors
    out: dict[str, int] = defaultdict(int)
    for (tenant, _), n in latest.items():
        out[tenant] += n
    return dict(out)


def tokens_today(ledger: Ledger, day: date) -> dict[str, int]:
    used: dict[str, int] = defaultdict(int)
    for e in ledger.entries():
        if e.event == "ingest" and e.at.date() == day:
            used[e.tenant] += e.tokens
    return dict(used)


def hold_over_quota(factory: Factory, reports: list[IngestReport], *, today: date | None = None) -> int:
    """Move each published document over its tenant's daily ingest quota to the report's
    dead letters; the number moved."""
    book = factory.quotas
    quotas = {e.tenant: book.for_tenant(e.tenant) for r in reports for e in r.published}
    if all(q.ingest_tokens_per_day is None and q.stored_vectors is None and q.monthly_budget is None
           for q in quotas.values()):
        return 0
    spent = {t: month_spend(factory, t) for t, q in quotas.items() if q.monthly_budget is not None}
    day = today or datetime.now(UTC).date()
    count = token_counter(factory.model_dir).count
    used = tokens_today(factory.ledger, day)
    stored = stored_vectors(factory.ledger) if any(q.stored_vectors is not None for q in quotas.values()) else {}
    def reached(tenant: str, quota: Quota) -> tuple[str, str] | None:
        """The quota that stops every new document of the tenant now, and why."""
        if quota.monthly_budget is not None and spent[tenant] >= quota.monthly_budget:
            return "monthly_budget", (f"tenant {tenant}'s monthly_budget ({quota.monthly_budget:g}) is spent: "
                                      f"{spent[tenant]:.6g} this month by the price book; the first scan after the "
                                      "operator raises it, or next month, publishes this document")
        if quota.stored_vectors is not None and stored.get(tenant, 0) >= quota.stored_vectors:
            return "stored_vectors", (f"tenant {tenant}'s quota stored_vectors ({quota.stored_vectors:,}) is "
                                      f"reached: {stored.get(tenant, 0):,} points in the index; delete documents "
                                      "or ask the operator to raise the quota, and the first scan after publishes "
                                      "this one")
        return None

    held = 0
    for report in reports:
        kept = []
        for event in report.published:
            quota = quotas[event.tenant]
            if event.op != "upsert":
                kept.append(event)
                continue
            stop = reached(event.tenant, quota)
            n = count(event.text) if stop is None and quota.ingest_tokens_per_day is not None else 0
            if stop is None and quota.ingest_tokens_per_day is not None \
                    and used.get(event.tenant, 0) + n > quota.ingest_tokens_per_day:
                stop = "ingest_tokens_per_day", (
                    f"tenant {event.tenant}'s quota ingest_tokens_per_day ({quota.ingest_tokens_per_day:,}) would "
                    f"be passed: {used.get(event.tenant, 0):,} tokens ingested on {day} (UTC) and this document has "
                    f"{n:,}; it is published by the first scan after the quota allows (tomorrow, or once the "
                    "operator raises it in the quota file)")
            if stop is not None:
                report.dead_letters.append(_letter(event, day, stop[0], QuotaExceeded(stop[1])))
                held += 1
                continue
            used[event.tenant] = used.get(event.tenant, 0) + n
            kept.append(event)
        report.published = kept
    return held


def _letter(event: DocumentEvent, day: date, quota: str, error: QuotaExceeded) -> DeadLetter:
    """One letter per document, quota and day, however many scans find it waiting."""
    return DeadLetter.new(stage="quota", error=error, source_uri=event.source_uri,
                          key=f"{quota}:{event.content_hash}:{day}",
                          source_root=event.source_root, tenant=event.tenant, jurisdiction=event.jurisdiction,
                          region=event.region, event_id=event.event_id)


def ingest_token_meter(factory: Factory) -> Callable[[str, str], int]:
    """Tokens of a landed document's text for the ledger, counted only for tenants with an
    ingest quota (the one use of the figure): (tenant, text) -> tokens, else 0."""
    book: QuotaBook = factory.quotas

    def tokens(tenant: str, text: str) -> int:
        if book.for_tenant(tenant).ingest_tokens_per_day is None:
            return 0
        return token_counter(factory.model_dir).count(factory.sealer.open(tenant, text))
    return tokens
