"""Quotas per tenant over real parts: the API's query quota holds under concurrent
requests from several keys of one tenant (429 with Retry-After naming the quota) and
changes without a restart; the ingest quota holds at the edge (the document over the
day's quota is a dead letter naming it, the rest land) and lets it through once raised."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from aifactory.usage_html import render
from governance.pricing import load_price_book
from ingest.sources import Source
from ingest.tables import DEAD_LETTERS, RAW
from pipeline import runner
from pipeline.usage_report import as_table, usage
from tests.conftest import MakeFactory
from tests.integration.conftest import ApiWorld

pytestmark = pytest.mark.integration


def test_the_query_quota_holds_under_concurrent_requests_and_changes_without_restart(api_world: ApiWorld) -> None:
    quotas = api_world.factory.settings.home / "governance" / "quotas.yaml"
    quotas.write_text("tenants:\n  helio-us: {queries_per_second: 2, query_burst: 3}\n")
    tokens = [api_world.keys.create("helio-us", "reader", ["us-east"])[1] for _ in range(4)]
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def client(token: str) -> None:
        with httpx.Client(base_url=api_world.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            for _ in range(5):
                r = http.post("/v1/search", json={"query": "travel per diem"})
                with lock:
                    answers.append(r)

    try:
        started = time.monotonic()
        threads = [threading.Thread(target=client, args=(t,)) for t in tokens]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        ok = [r for r in answers if r.status_code == 200]
        refused = [r for r in answers if r.status_code == 429]
        assert len(ok) + len(refused) == 20
        # All four keys share the tenant's bucket: burst 3, then 2 per second.
        assert 3 <= len(ok) <= 3 + 2 * elapsed + 1, (len(ok), elapsed)
        problem = refused[0].json()
        assert "quota queries_per_second (2 per second, burst 3)" in problem["detail"]
        assert int(refused[0].headers["Retry-After"]) >= 1
        # Another tenant is not held back by helio-us's quota.
        assert httpx.post(f"{api_world.url}/v1/search", json={"query": "leave"}, timeout=60,
                          headers=api_world.auth("helio-eu/reader")).status_code == 200
        # Raised in the file while the server runs: the next burst goes through.
        quotas.write_text("tenants:\n  helio-us: {queries_per_second: 1000, query_burst: 1000}\n")
        time.sleep(0.05)
        with httpx.Client(base_url=api_world.url, headers={"Authorization": f"Bearer {tokens[0]}"}, timeout=60) as h:
            assert [h.post("/v1/search", json={"query": "per diem"}).status_code for _ in range(8)] == [200] * 8
    finally:
        quotas.unlink()


def test_a_spent_monthly_budget_answers_402_and_a_raised_one_lets_queries_through(api_world: ApiWorld) -> None:
    quotas = api_world.factory.settings.home / "governance" / "quotas.yaml"
    quotas.write_text("tenants:\n  helio-eu: {monthly_budget: 0.000000001}\n")  # its indexing cost more already
    try:
        spent = httpx.post(f"{api_world.url}/v1/search", json={"query": "leave"}, timeout=60,
                           headers=api_world.auth("helio-eu/reader"))
        assert spent.status_code == 402 and "monthly_budget (1e-09;" in spent.json()["detail"]
        assert httpx.post(f"{api_world.url}/v1/search", json={"query": "per diem"}, timeout=60,
                          headers=api_world.auth("helio-us/reader")).status_code == 200  # another tenant
        quotas.write_text("tenants:\n  helio-eu: {monthly_budget: 1000000}\n")
        assert httpx.post(f"{api_world.url}/v1/search", json={"query": "leave"}, timeout=60,
                          headers=api_world.auth("helio-eu/reader")).status_code == 200
    finally:
        quotas.unlink()


def test_the_ingest_quota_holds_at_the_edge_and_lets_through_once_raised(tmp_path: Path,
                                                                        make_factory: MakeFactory) -> None:
    home = tmp_path / "home"
    (home / "governance").mkdir(parents=True)
    src = tmp_path / "docs"
    src.mkdir()
    for i in range(3):
        (src / f"note-{i}.md").write_text(f"# Note {i}\n\n" + " ".join(["the quarterly plan"] * 20) + "\n")
    quotas = home / "governance" / "quotas.yaml"
    quotas.write_text("tenants:\n  acme: {ingest_tokens_per_day: 130}\n")  # two notes of about 64 tokens
    factory = make_factory(home)
    report = runner.run(factory, [Source(src, "acme", "EU"), Source(src, "globex", "EU")])
    con = factory.lake.connect(RAW, DEAD_LETTERS)
    landed = dict(con.execute("SELECT tenant, count(*) FROM raw GROUP BY 1").fetchall())
    letters = con.execute("SELECT tenant, stage, error_class, reason FROM dead_letters").fetchall()
    con.close()
    assert landed == {"acme": 2, "globex": 3}  # globex has no quota
    assert [(t, s, e) for t, s, e, _ in letters] == [("acme", "quota", "QuotaExceeded")]
    assert "quota ingest_tokens_per_day (130)" in letters[0][3] and "published by the first scan" in letters[0][3]
    assert report.summary()["published"] == 5
    used = sum(e.tokens for e in factory.ledger.entries() if e.event == "ingest" and e.tenant == "acme")
    assert 0 < used <= 130

    # The same day, still over: held again, no second copy of the letter.
    runner.run(factory, [Source(src, "acme", "EU")])
    quotas.write_text("tenants:\n  acme: {ingest_tokens_per_day: 100000}\n")
    again = runner.run(factory, [Source(src, "acme", "EU")])
    con = factory.lake.connect(RAW, DEAD_LETTERS)
    assert con.execute("SELECT count(*) FROM raw WHERE tenant = 'acme'").fetchone() == (3,)
    assert con.execute("SELECT count(*) FROM dead_letters").fetchone() == (1,)
    con.close()
    assert again.summary()["published"] == 1
    # The usage report shows each quota and today's use against it.
    report = usage(factory.ledger, load_price_book(None), "all", quotas=factory.quotas)
    assert report["quotas"]["acme"]["ingest_tokens_per_day"] == 100000 and "globex" not in report["quotas"]
    assert report["quotas"]["acme"]["ingest_tokens_today"] > used
    assert "quota acme: ingest_tokens_per_day 100000" in as_table(report) and "<h2>Quotas</h2>" in render(report)

    # Stored vectors: at the quota, a new document waits; the tenant's other writes go on.
    points = sum(1 for r in factory.index.regions() for h in factory.index.points(r) if h.payload["tenant"] == "acme")
    quotas.write_text(f"tenants:\n  acme: {{stored_vectors: {points}}}\n")
    (src / "note-3.md").write_text("# Note 3\n\nA fourth note.\n")
    held = runner.run(factory, [Source(src, "acme", "EU")])
    assert held.summary()["published"] == 0
    con = factory.lake.connect(DEAD_LETTERS)
    reasons = [r for (r,) in con.execute("SELECT reason FROM dead_letters WHERE reason LIKE '%stored_vectors%'")
               .fetchall()]
    con.close()
    assert len(reasons) == 1 and f"quota stored_vectors ({points})" in reasons[0] and "delete documents" in reasons[0]

    # A monthly budget already spent: new documents wait likewise.
    quotas.write_text("tenants:\n  acme: {monthly_budget: 0.0000001}\n")
    assert runner.run(factory, [Source(src, "acme", "EU")]).summary()["published"] == 0
    con = factory.lake.connect(DEAD_LETTERS)
    spent = con.execute("SELECT reason FROM dead_letters WHERE reason LIKE '%monthly_budget%'").fetchall()
    con.close()
    assert len(spent) == 1 and "monthly_budget (1e-07) is spent" in spent[0][0]
    factory.close()
