"""Usage reports from a ledger and a price book: sums per tenant and region, costs per
component, storage as GB-months, periods, and every output format."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aifactory.usage_html import render
from governance.ledger import Ledger, UsageEntry, apportion
from governance.pricing import PriceBookError, load_price_book
from pipeline.usage_report import GB, PeriodError, UnknownTenantError, as_csv, as_table, period_bounds, usage


def at(day: int) -> datetime:
    return datetime(2026, 11, day, 12, tzinfo=UTC)


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    ledger = Ledger(tmp_path / "usage.jsonl")
    ledger.append([
        UsageEntry(at=at(2), run_id="r1", tenant="a", event="embedding", region="eu", texts=10, tokens=4000,
                   compute_seconds=2.0, device="cpu"),
        UsageEntry(at=at(3), run_id="r2", tenant="a", event="embedding", region="eu", texts=5, tokens=1000,
                   compute_seconds=1.0, device="NVIDIA H100"),
        UsageEntry(at=at(1), run_id="r1", tenant="a", event="storage", region="eu", vectors=100, vector_bytes=3 * GB),
        UsageEntry(at=at(3), run_id="api", tenant="a", event="query", queries=1, tokens=7),
        UsageEntry(at=at(3), run_id="api", tenant="a", event="rag_context", tokens=500),
        UsageEntry(at=at(3), run_id="api", tenant="a", event="egress", region="eu", bytes=GB // 2),
        UsageEntry(at=at(4), run_id="r3", tenant="b", event="embedding", region="us", texts=1, tokens=2000,
                   compute_seconds=1.0, device="cpu"),
        UsageEntry(at=datetime(2026, 10, 30, tzinfo=UTC), run_id="r0", tenant="b", event="embedding", region="us",
                   texts=1, tokens=99999, compute_seconds=9.0, device="cpu"),
    ])
    return ledger


def test_periods() -> None:
    assert [str(d) for d in period_bounds("2026-11")] == ["2026-11-01", "2026-12-01"]
    assert [str(d) for d in period_bounds("2026-12")] == ["2026-12-01", "2027-01-01"]
    assert [str(d) for d in period_bounds("2026-W47")] == ["2026-11-16", "2026-11-23"]
    assert [str(d) for d in period_bounds("2026-11-23")] == ["2026-11-23", "2026-11-24"]
    with pytest.raises(PeriodError, match="YYYY-MM"):
        period_bounds("November")


def test_month_sums_and_costs_reconcile_with_the_ledger(ledger: Ledger, tmp_path: Path) -> None:
    book_file = tmp_path / "prices.yaml"
    book_file.write_text("currency: USD\ndefault: {per_1k_tokens_embedded: 0.01, per_cpu_second: 0.1, "
                         "per_gpu_second: 1.0, per_gb_month_stored: 2.0, per_1k_queries: 10, "
                         "per_1k_context_tokens: 0.1, per_gb_egress: 0.08}\n"
                         "regions: {us: {per_1k_tokens_embedded: 0.02}}\n")
    report = usage(ledger, load_price_book(book_file), "2026-11")
    lines = {(r["tenant"], r["region"]): r for r in report["lines"]}
    eu = lines[("a", "eu")]
    assert eu["tokens_embedded"] == 5000 and eu["cpu_seconds"] == 2.0 and eu["gpu_seconds"] == 1.0
    assert eu["cost"]["embedding_tokens"] == pytest.approx(0.05)
    assert eu["cost"]["embedding_compute"] == pytest.approx(0.2 + 1.0)
    assert eu["vectors_stored"] == 100 and eu["gb_months"] > 0
    assert eu["egress_bytes"] == GB // 2 and eu["cost"]["egress"] == pytest.approx(0.04)
    assert lines[("a", "")]["queries"] == 1 and lines[("a", "")]["cost"]["queries"] == pytest.approx(0.01)
    assert lines[("a", "")]["cost"]["rag_context"] == pytest.approx(0.05)
    assert lines[("b", "us")]["tokens_embedded"] == 2000  # October's entry is outside the period
    assert lines[("b", "us")]["cost"]["embedding_tokens"] == pytest.approx(0.04)  # the region's price
    assert report["total"] == pytest.approx(sum(r["total"] for r in report["lines"]))
    only_b = usage(ledger, load_price_book(book_file), "2026-11", tenant="b")
    assert {r["tenant"] for r in only_b["lines"]} == {"b"}


def test_every_format_renders(ledger: Ledger) -> None:
    report = usage(ledger, load_price_book(None), "2026-11")
    assert "total" in as_table(report)
    rows = list(csv.DictReader(io.StringIO(as_csv(report))))
    assert {r["tenant"] for r in rows} == {"a", "b"} and "cost_storage" in rows[0]
    page = render(report)
    assert page.count("<svg") == 2 and "Tokens embedded per day" in page and "<script" not in page


def test_a_bad_price_book_names_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "prices.yaml"
    bad.write_text("default: {per_token: 1}\n")
    with pytest.raises(PriceBookError, match="unknown price"):
        load_price_book(bad)


def test_every_report_names_the_price_book_and_its_rates(ledger: Ledger, tmp_path: Path) -> None:
    """An invoice says which rates it used: name, version, source and each rate, in every format."""
    book_file = tmp_path / "prices.yaml"
    book_file.write_text("name: acme-list\nversion: 2026-12\ncurrency: USD\ndefault: {per_1k_queries: 10}\n"
                         "regions: {us: {per_1k_tokens_embedded: 0.02}}\n")
    report = usage(ledger, load_price_book(book_file), "2026-11")
    book = report["price_book"]
    assert (book["name"], book["version"], book["source"]) == ("acme-list", "2026-12", str(book_file))
    assert book["default"]["per_1k_queries"] == 10 and book["regions"]["us"]["per_1k_tokens_embedded"] == 0.02
    assert "priced by acme-list version 2026-12" in as_table(report).splitlines()[0]
    rows = list(csv.DictReader(io.StringIO(as_csv(report))))
    assert {(r["price_book"], r["price_book_version"], r["currency"]) for r in rows} == {
        ("acme-list", "2026-12", "USD")}
    page = render(report)
    assert "price book acme-list version 2026-12" in page and "id='rates'" in page
    builtin = usage(ledger, load_price_book(None), "2026-11")["price_book"]
    assert (builtin["name"], builtin["source"]) == ("aifactory-example", "built in")


def test_a_tenant_never_metered_is_refused_not_reported_empty(ledger: Ledger) -> None:
    with pytest.raises(UnknownTenantError, match=r"tenant 'nosuch' has no usage.*tenants metered: a, b"):
        usage(ledger, load_price_book(None), "2026-11", tenant="nosuch")
    quiet = usage(ledger, load_price_book(None), "2026-12", tenant="a")  # metered, just not this month
    assert {r["tenant"] for r in quiet["lines"]} <= {"a"}


@pytest.mark.parametrize(("total", "weights", "want"), [
    (10, {"eu": 1, "us": 1}, {"eu": 5, "us": 5}),
    (7, {"eu": 2, "us": 1}, {"eu": 5, "us": 2}),
    (1, {"eu": 1, "us": 1}, {"eu": 1, "us": 0}),
    (5, {"eu": 0, "us": 3}, {"us": 5}),
    (5, {}, {}),
])
def test_context_tokens_are_apportioned_in_whole_units_that_add_up(total: int, weights: dict[str, int],
                                                                   want: dict[str, int]) -> None:
    shares = apportion(total, weights)
    assert shares == want and sum(shares.values()) == (total if want else 0)
