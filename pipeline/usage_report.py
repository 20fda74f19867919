"""Showback and chargeback from the usage ledger and the price book: per tenant and
region, what was used in a period and what it costs, by component.

Periods: `2026-11` (a month), `2026-11-23` (a day), `2026-W47` (an ISO week), `all`.
Storage is charged per GB-month: the stored bytes of the last snapshot at or before
each day, summed over the period's days, divided by 30.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from governance.ledger import Ledger, UsageEntry
from governance.pricing import PriceBook
from governance.quotas import QuotaBook
from pipeline.errors import PipelineError

GB = 1024**3
COMPONENTS = ("embedding_tokens", "embedding_compute", "storage", "queries", "rag_context", "egress")


class PeriodError(PipelineError):
    """A period that cannot be read."""


class UnknownTenantError(PipelineError):
    """A report asked for a tenant the ledger has never metered."""


def period_bounds(period: str, today: date | None = None) -> tuple[date, date]:
    """[start, end) days of a period."""
    try:
        if period == "all":
            return date(1970, 1, 1), (today or datetime.now(UTC).date()) + timedelta(days=1)
        if "-W" in period:
            year, week = period.split("-W")
            start = date.fromisocalendar(int(year), int(week), 1)
            return start, start + timedelta(days=7)
        parts = [int(p) for p in period.split("-")]
        if len(parts) == 2:
            start = date(parts[0], parts[1], 1)
            return start, date(start.year + start.month // 12, start.month % 12 + 1, 1)
        if len(parts) == 3:
            start = date(*parts)
            return start, start + timedelta(days=1)
    except ValueError:
        pass
    raise PeriodError(f"period {period!r} is not one of YYYY-MM, YYYY-MM-DD, YYYY-Www or all")


@dataclass
class Line:
    tenant: str
    region: str
    documents: int = 0
    bytes_ingested: int = 0
    chunks: int = 0
    texts_embedded: int = 0
    tokens_embedded: int = 0
    gpu_seconds: float = 0.0
    cpu_seconds: float = 0.0
    vectors_stored: int = 0
    gb_months: float = 0.0
    queries: int = 0
    query_tokens: int = 0
    context_tokens: int = 0
    egress_bytes: int = 0  # the API's answers, billed to the regions they read
    energy_wh: float = 0.0  # estimated: device power x embedding seconds
    co2e_g: float = 0.0  # estimated: that energy at the region's carbon intensity
    cost: dict[str, float] | None = None

    @property
    def total(self) -> float:
        return round(sum((self.cost or {}).values()), 6)


def _on_gpu(device: str) -> bool:
    return bool(device) and not device.lower().startswith("cpu")


def usage(ledger: Ledger, book: PriceBook, period: str, tenant: str | None = None,
          quotas: QuotaBook | None = None) -> dict[str, Any]:
    """What each tenant used in `period`, per region, priced by `book` (named on the
    report), and each tenant's quotas with today's ingest tokens against them.
    UnknownTenantError when `tenant` was never metered: an empty report would read as
    "used nothing" for a misspelt name."""
    start, end = period_bounds(period)
    lines: dict[tuple[str, str], Line] = {}
    snapshots: dict[tuple[str, str], list[UsageEntry]] = defaultdict(list)
    daily: dict[tuple[str, str], float] = defaultdict(float)  # (day, tenant) -> tokens embedded
    metered: set[str] = set()
    for e in ledger.entries():
        metered.add(e.tenant)
        if tenant and e.tenant != tenant:
            continue
        day = e.at.date()
        if e.event == "storage":
            snapshots[(e.tenant, e.region)].append(e)  # earlier snapshots carry into the period
        if not start <= day < end:
            continue
        line = lines.setdefault((e.tenant, e.region), Line(e.tenant, e.region))
        if e.event == "ingest":
            line.documents += e.documents
            line.bytes_ingested += e.bytes
        elif e.event == "chunking":
            line.chunks += e.chunks
        elif e.event == "embedding":
            line.texts_embedded += e.texts
            line.tokens_embedded += e.tokens
            if _on_gpu(e.device):
                line.gpu_seconds += e.compute_seconds
            else:
                line.cpu_seconds += e.compute_seconds
            line.energy_wh += e.energy_wh
            line.co2e_g += e.co2e_g
            daily[(day.isoformat(), e.tenant)] += e.tokens
        elif e.event == "query":
            line.queries += e.queries
            line.query_tokens += e.tokens
        elif e.event == "rag_context":
            line.context_tokens += e.tokens
        elif e.event == "egress":
            line.egress_bytes += e.bytes
    if tenant and tenant not in metered:
        known = ", ".join(sorted(metered)[:20]) or "none yet"
        raise UnknownTenantError(f"tenant {tenant!r} has no usage in the ledger {ledger.path} (tenants metered: "
                                 f"{known}); check the name, or leave --tenant out for every tenant")
    last_day = min(end, datetime.now(UTC).date() + timedelta(days=1))
    for key, snaps in snapshots.items():
        snaps.sort(key=lambda s: s.at)
        gb_days, i, current = 0.0, 0, None
        day = max(start, snaps[0].at.date())
        while day < last_day:
            while i < len(snaps) and snaps[i].at.date() <= day:
                current, i = snaps[i], i + 1
            gb_days += (current.vector_bytes / GB) if current else 0.0
            day += timedelta(days=1)
        if current is None:
            continue
        line = lines.setdefault(key, Line(*key))
        line.vectors_stored = current.vectors
        line.gb_months = round(gb_days / 30, 9)
    for line in lines.values():
        p = book.prices(line.region)
        line.cost = {
            "embedding_tokens": line.tokens_embedded / 1000 * p.per_1k_tokens_embedded,
            "embedding_compute": line.gpu_seconds * p.per_gpu_second + line.cpu_seconds * p.per_cpu_second,
            "storage": line.gb_months * p.per_gb_month_stored,
            "queries": line.queries / 1000 * p.per_1k_queries,
            "rag_context": line.context_tokens / 1000 * p.per_1k_context_tokens,
            "egress": line.egress_bytes / GB * p.per_gb_egress,
        }
        line.cost = {k: round(v, 6) for k, v in line.cost.items()}
        line.energy_wh, line.co2e_g = round(line.energy_wh, 6), round(line.co2e_g, 6)
    rows = [{**asdict(v), "total": v.total} for _, v in sorted(lines.items())]
    today = datetime.now(UTC).date()
    ingested_today: dict[str, int] = defaultdict(int)
    for e in ledger.entries() if quotas is not None else ():
        if e.event == "ingest" and e.at.date() == today:
            ingested_today[e.tenant] += e.tokens
    limits = {t: quotas.for_tenant(t) for t in sorted({r["tenant"] for r in rows})} if quotas is not None else {}
    quota_rows = {t: {**{k: v for k, v in asdict(q).items() if v is not None},
                      "ingest_tokens_today": ingested_today.get(t, 0)}
                  for t, q in limits.items() if any(v is not None for v in asdict(q).values())}
    return {"period": period, "from": start.isoformat(), "to": end.isoformat(), "currency": book.currency,
            "price_book": book.describe(), "quotas": quota_rows, "lines": rows,
            "daily_tokens": [{"day": d, "tenant": t, "tokens": n} for (d, t), n in sorted(daily.items())],
            "total": round(sum(r["total"] for r in rows), 6)}


def as_table(report: dict[str, Any]) -> str:
    head = f"{'tenant':<14}{'region':<12}{'tokens':>10}{'cpu s':>8}{'gpu s':>8}{'vectors':>9}{'queries':>9}" \
           f"{'ctx tok':>9}{'gCO2e':>9}{'cost ' + report['currency']:>14}"
    rows = [f"{r['tenant']:<14}{r['region'] or '-':<12}{r['tokens_embedded']:>10}{r['cpu_seconds']:>8.1f}"
            f"{r['gpu_seconds']:>8.1f}{r['vectors_stored']:>9}{r['queries']:>9}{r['context_tokens']:>9}"
            f"{r.get('co2e_g', 0.0):>9.3f}{r['total']:>14.4f}" for r in report["lines"]]
    book = report["price_book"]
    quotas = [f"quota {t}: " + ", ".join(f"{k} {v:g}" for k, v in q.items()) for t, q in report["quotas"].items()]
    return "\n".join([f"usage {report['period']} ({report['from']} to {report['to']}), priced by {book['name']} "
                      f"version {book['version']} ({book['source']})", head, *rows,
                      f"{'total':<89}{report['total']:>14.4f}", *quotas])


def as_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    cols = [k for k in report["lines"][0] if k != "cost"] if report["lines"] else ["tenant"]
    writer = csv.writer(out)
    book = report["price_book"]
    writer.writerow([*cols, *(f"cost_{c}" for c in COMPONENTS), "currency", "price_book", "price_book_version"])
    for r in report["lines"]:
        writer.writerow([*(r[c] for c in cols), *(r["cost"][c] for c in COMPONENTS), report["currency"],
                         book["name"], book["version"]])
    return out.getvalue()


def as_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2)


@dataclass(frozen=True)
class LedgerSummary:
    """The ledger file at a glance: entries per event, tenants, the last entry."""

    path: Path
    bytes: int
    by_event: dict[str, int]
    tenants: int
    last_entry_at: datetime | None
    totals: dict[str, dict[str, Any]]

    @property
    def entries(self) -> int:
        return sum(self.by_event.values())


def ledger_summary(ledger: Ledger) -> LedgerSummary:
    by_event: Counter[str] = Counter()
    tenants: set[str] = set()
    last = None
    for e in ledger.entries():
        by_event[e.event] += 1
        tenants.add(e.tenant)
        last = e.at
    path = ledger.path
    return LedgerSummary(path=path, bytes=path.stat().st_size if path.exists() else 0, by_event=dict(by_event),
                         tenants=len(tenants), last_entry_at=last, totals=ledger.totals())


def write_daily(ledger: Ledger, book: PriceBook, day: str, folder: Path) -> tuple[dict[str, Any], Path]:
    """`usage` of one day, written to `<folder>/<day>.json`; the report and its path."""
    report = usage(ledger, book, day)
    path = folder / f"{date.fromisoformat(day).isoformat()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report, path
