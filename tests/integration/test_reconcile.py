"""`aifactory usage reconcile` holds the usage ledger to the lake, the index and the API's
request log after ingest, queries from several tenants and regions over real HTTP, a
delete and an erasure; and it notices a forged, a lost or a doubled entry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from aifactory.serve import ApiSettings, build, key_store
from governance.ledger import UsageEntry
from ingest.sources import Source
from pipeline import runner
from pipeline.deletes import DeleteRequest, delete
from pipeline.erasure import erase
from pipeline.reconcile import reconcile, request_log_path
from tests.conftest import MakeFactory
from tests.fixtures.http import serving

pytestmark = pytest.mark.integration


def _write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def test_the_ledger_reconciles_after_ingest_queries_a_delete_and_an_erasure(tmp_path: Path,
                                                                           make_factory: MakeFactory) -> None:
    factory = make_factory(tmp_path / "home")
    eu = _write(tmp_path / "eu", {f"policy-{i}.md": f"# Policy {i}\n\nLeave rule {i} for the Berlin office. "
                                  f"Contact ana.lima{i}@example.com for questions.\n" for i in range(3)})
    us = _write(tmp_path / "us", {"travel.md": "# Travel\n\nPer diem is 60 dollars in Boston.\n",
                                  "vpn.md": "# VPN\n\nUse the Boston gateway.\n"})
    runner.run(factory, [Source(eu, "acme", "EU"), Source(us, "acme", "US"), Source(us, "globex", "US")])
    store = key_store(factory)
    both = store.create("acme", "reader", ["eu-central", "us-east"])[1]
    one = store.create("globex", "reader", ["us-east"])[1]
    app, backend = build(factory, ApiSettings(rate_per_s=0))
    try:
        with serving(app) as url:
            for token, asks in ((both, 3), (one, 2)):
                with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
                    for i in range(asks):
                        r = http.post("/v1/search", json={"query": f"leave rule {i}"})
                        assert r.status_code == 200 and len(r.headers["x-request-id"]) == 32
                    assert http.post("/v1/rag/context", json={"query": "per diem", "token_budget": 200}
                                     ).status_code == 200
                    assert http.post("/v1/search", json={"query": " "}).status_code == 422  # not billed
    finally:
        backend.close()  # flushes the ledger writer
    delete(factory, DeleteRequest("acme", document="acme:vpn.md"))
    erase(factory, "acme", document="acme:policy-0.md")

    checks = reconcile(factory)
    assert [c for c in checks if not c.ok] == []
    kinds = {(c.what, c.tenant, c.region) for c in checks}
    assert {("documents", "acme", "eu-central"), ("documents", "acme", "us-east"), ("chunks", "globex", "us-east"),
            ("vectors", "acme", "eu-central"), ("queries", "acme", ""), ("queries", "globex", "")} <= kinds
    egress = {c.tenant: c for c in checks if c.what == "egress"}
    assert egress["acme"].ledger == egress["acme"].source > 0 and egress["globex"].ledger > 0
    billed_out = [e for e in factory.ledger.entries() if e.event == "egress" and e.tenant == "acme"]
    assert {e.region for e in billed_out} <= {"eu-central", "us-east"} and all(e.request_id for e in billed_out)
    queries = {c.tenant: c for c in checks if c.what == "queries"}
    assert (queries["acme"].source, queries["globex"].source) == (4, 3)  # the 422 is neither served nor billed
    documents = next(c for c in checks if (c.what, c.tenant, c.region) == ("documents", "acme", "eu-central"))
    assert documents.ledger == 3 and documents.note == "1 erased"
    # acme's key reads two regions: each query is billed in both, at each region's price.
    billed = [e for e in factory.ledger.entries() if e.event == "query" and e.tenant == "acme"]
    assert {e.region for e in billed} == {"eu-central", "us-east"} and len(billed) == 8

    # A forged query and an ingest entry written twice: each is named.
    ledger = factory.ledger
    doubled = next(e for e in ledger.entries() if e.event == "ingest")
    ledger.append([UsageEntry(run_id="api-x", tenant="globex", event="query", region="us-east", queries=1,
                              request_id="f" * 32), doubled])
    stale = {(c.what, c.tenant, c.region): c for c in reconcile(factory) if not c.ok}
    assert set(stale) == {("queries", "globex", ""), ("documents", doubled.tenant, doubled.region),
                          ("bytes", doubled.tenant, doubled.region)}
    assert "1 billed without an answer in the log" in stale[("queries", "globex", "")].note
    documents = stale[("documents", doubled.tenant, doubled.region)]
    assert documents.ledger == documents.source + doubled.documents

    # The command: a table naming each difference, exit 1; JSON on request; no traceback.
    proc = _cli(factory.settings.home, "usage", "reconcile")
    assert proc.returncode == 1 and "DIFF" in proc.stdout and "Traceback" not in proc.stderr, proc.stderr
    assert "billed without an answer" in proc.stdout and "3 of" in proc.stdout
    request_log_path(factory.settings.home).unlink()  # lost: every served query now looks unserved
    rows = json.loads(_cli(factory.settings.home, "usage", "reconcile", "--json").stdout)
    assert {r["tenant"] for r in rows if r["what"] == "queries" and not r["ok"]} == {"acme", "globex"}
    factory.close()


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIFACTORY_", "KAFKA_"))}
    return subprocess.run([sys.executable, "-m", "aifactory.cli", *args], capture_output=True, text=True,
                          env={**env, "AIFACTORY_HOME": str(home)}, timeout=120, cwd=home.parent)


def test_a_fresh_home_reconciles_to_nothing(tmp_path: Path, make_factory: MakeFactory) -> None:
    factory = make_factory(tmp_path / "home")
    assert reconcile(factory) == []
    factory.close()
