"""The ingest quotas at the edge: before a scan publishes, each document of a tenant with
an `ingest_tokens_per_day` quota is counted in model tokens; one that would take the
tenant past the day's quota (UTC) goes to the dead letters naming the quota, and the
rest are published. A tenant whose index already holds its `stored_vectors` quota (its
last storage figures) publishes no new document until it deletes some or the quota rises. The day's use is the ledger's ingest tokens of today (the lander
meters tokens for tenants with the quota) plus what this scan already let through.
A document held back is published by a later scan once the quota allows: the raw lake
does not hold it, so the scan sees it as new again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime

from governance.contracts import DeadLetter, DocumentEvent
from governance.ledger import Ledger
from governance.quotas import QuotaBook, QuotaExceeded
from ingest.sources import IngestReport
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
    if all(q.ingest_tokens_per_day is None and q.stored_vectors is None for q in quotas.values()):
        return 0
    day = today or datetime.now(UTC).date()
    count = token_counter(factory.model_dir).count
    used = tokens_today(factory.ledger, day)
    stored = stored_vectors(factory.ledger) if any(q.stored_vectors is not None for q in quotas.values()) else {}
    held = 0
    for report in reports:
        kept = []
        for event in report.published:
            quota = quotas[event.tenant]
            if event.op != "upsert":
                kept.append(event)
                continue
            if quota.stored_vectors is not None and stored.get(event.tenant, 0) >= quota.stored_vectors:
                report.dead_letters.append(_letter(event, day, QuotaExceeded(
                    f"tenant {event.tenant}'s quota stored_vectors ({quota.stored_vectors:,}) is reached: "
                    f"{stored.get(event.tenant, 0):,} points in the index; delete documents or ask the operator to "
                    "raise the quota, and the first scan after publishes this one")))
                held += 1
                continue
            limit = quota.ingest_tokens_per_day
            if limit is None:
                kept.append(event)
                continue
            n = count(event.text)
            if used.get(event.tenant, 0) + n > limit:
                report.dead_letters.append(_letter(event, day, QuotaExceeded(
                    f"tenant {event.tenant}'s quota ingest_tokens_per_day ({limit:,}) would be passed: "
                    f"{used.get(event.tenant, 0):,} tokens ingested on {day} (UTC) and this document has {n:,}; "
                    "it is published by the first scan after the quota allows (tomorrow, or once the operator "
                    "raises it in the quota file)")))
                held += 1
                continue
            used[event.tenant] = used.get(event.tenant, 0) + n
            kept.append(event)
        report.published = kept
    return held


def _letter(event: DocumentEvent, day: date, error: QuotaExceeded) -> DeadLetter:
    return DeadLetter.new(stage="quota", error=error, source_uri=event.source_uri, key=f"{event.content_hash}:{day}",
                          source_root=event.source_root, tenant=event.tenant, jurisdiction=event.jurisdiction,
                          region=event.region, event_id=event.event_id)


def ingest_token_meter(factory: Factory) -> Callable[[str, str], int]:
    """Tokens of a landed document's text for the ledger, counted only for tenants with an
    ingest quota (the one use of the figure): (tenant, text) -> tokens, else 0."""
    book: QuotaBook = factory.quotas

    def tokens(tenant: str, text: str) -> int:
        if book.for_tenant(tenant).ingest_tokens_per_day is None:
            return 0
        return token_counter(factory.model_dir).count(text)
    return tokens
