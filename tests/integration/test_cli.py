"""The `aifactory` command in embedded mode: each command starts its own
memory-only broker, and the raw lake carries events from one to the next."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline.settings import PROJECT_ROOT
from tests.fixtures.http import aifactory_serve
from tests.fixtures.procs import pids_with_home

pytestmark = pytest.mark.integration

CORPUS = PROJECT_ROOT / "examples" / "corpus" / "helio-eu"


def aifactory(home: Path, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIFACTORY_", "KAFKA_"))}
    env["AIFACTORY_HOME"] = str(home)
    proc = subprocess.run([sys.executable, "-m", "aifactory.cli", *args], env=env, capture_output=True,
                          text=True, timeout=300, cwd=home.parent)
    assert proc.returncode == expect, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def as_json(proc: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(proc.stdout)


def test_quickstart_run_prints_an_answer_with_sources(tmp_path: Path) -> None:
    out = aifactory(tmp_path / "home", "run").stdout
    assert "Q: How long is parental leave for employees in Germany?" in out
    assert "Sources (rrf score):" in out and "helio-eu/hr/parental-leave.md" in out
    # Only this command's broker: others (a benchmark, another session) may run beside it.
    assert not pids_with_home("tansu", tmp_path / "home"), "the embedded broker was left running"
    assert [p.name for p in tmp_path.iterdir()] == ["home"], "state was written outside AIFACTORY_HOME"


def test_events_landed_by_ingest_survive_the_broker_and_are_indexed_by_run(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(CORPUS / "hr", src / "hr")
    home = tmp_path / "home"
    ingested = as_json(aifactory(home, "ingest", str(src), "--tenant", "helio-eu", "--jurisdiction", "EU", "--json"))
    assert ingested["published"] == ingested["raw_landed"] == 5
    assert as_json(aifactory(home, "status", "--json"))["totals"]["points"] == 0

    # That broker is gone with its memory; `run` republishes from the raw lake.
    ran = as_json(aifactory(home, "run", str(src), "--tenant", "helio-eu", "--jurisdiction", "EU", "--json"))
    assert ran["run"]["published"] == 0 and ran["run"]["recovered"] == 5
    status = as_json(aifactory(home, "status", "--json"))
    totals = status["totals"]
    assert totals["events"] == 5 and totals["points"] == totals["current_chunks"] - totals["duplicates_folded"] > 5

    hits = as_json(aifactory(home, "search", "How much is paid for a weekend on call?", "--tenant", "helio-eu",
                             "--top-k", "3", "--json"))
    assert hits[0]["document_id"] == "helio-eu:hr/on-call-policy.html"
    assert hits[0]["lineage"]["topic"].endswith("raw-documents") and hits[0]["lineage"]["offset"] >= 0
    # A tenant the data directory never heard of is a typo, not an empty result.
    proc = aifactory(home, "search", "on call", "--tenant", "nobody", "--json", expect=2)
    assert "tenant 'nobody' has no documents" in proc.stderr and "tenants here: helio-eu" in proc.stderr


def test_bad_arguments_give_a_clear_error(tmp_path: Path) -> None:
    proc = aifactory(tmp_path / "home", "run", str(tmp_path / "missing"), "--tenant", "a",
                     "--jurisdiction", "EU", expect=2)
    assert "no such file or folder" in proc.stderr
    proc = aifactory(tmp_path / "home", "run", str(tmp_path), "--tenant", "a", "--jurisdiction", "XX", expect=2)
    assert "jurisdiction 'XX' is not in the residency policy" in proc.stderr
    proc = aifactory(tmp_path / "home", "delete", "--tenant", "a", expect=2)
    assert "one of the arguments --document --subject --all-documents is required" in proc.stderr
    proc = aifactory(tmp_path / "home", "delete", "--tenant", "a", "--subject", "Ana", expect=2)
    assert "no data directory at" in proc.stderr  # test_first_hour tries it where there is data


def test_eval_reports_every_mode_on_a_beir_set_and_the_identifier_set(tmp_path: Path) -> None:
    beir = PROJECT_ROOT / "tests" / "data" / "beir"
    report = as_json(aifactory(tmp_path / "home", "eval", "--corpus", str(beir / "corpus.jsonl"),
                               "--queries", str(beir / "queries.jsonl"), "--qrels", str(beir / "qrels.tsv"),
                               "--memos", "24", "--json"))
    natural, coded = report["beir"], report["identifiers-24"]
    assert natural["documents"] == 14 and coded["documents"] == 24
    assert set(natural["modes"]) == {"dense", "keyword", "hybrid-rrf", "hybrid"}
    for m in natural["modes"].values():
        assert m["queries"] == 8 and m["identifier_queries"] == 1 and m["recall@100"] == 1.0
        assert m["ndcg@10"] > 0.8 and m["mrr"] > 0.8
    assert natural["previous"] is None
    # The default mode wins: every memo found first by its identifier, more often than dense or plain fusion.
    ids = {mode: m["identifier_first"] for mode, m in coded["modes"].items()}
    assert ids["hybrid"] >= 0.95 and ids["hybrid"] >= max(ids.values())
    assert ids["dense"] < ids["hybrid"]
    assert natural["modes"]["hybrid"]["ndcg@10"] >= natural["modes"]["hybrid-rrf"]["ndcg@10"]
    table = aifactory(tmp_path / "home", "eval", "--memos", "24").stdout
    assert "identifier@1" in table and "(1.000)" in table, table  # the last run's figures beside




def test_keys_and_serve_from_the_command_line(tmp_path: Path) -> None:

    import httpx

    home, src = tmp_path / "home", tmp_path / "src"
    src.mkdir()
    shutil.copy(CORPUS / "hr" / "parental-leave.md", src)
    aifactory(home, "run", str(src), "--tenant", "acme", "--jurisdiction", "EU")
    assert "chain intact" in aifactory(home, "audit", "verify").stdout
    residency = as_json(aifactory(home, "residency", "report", "--json"))
    assert not residency["violations_found"]
    assert {r["region"] for r in residency["tenants"]["acme"] if not r.get("processed")} == {"eu-central"}
    page = tmp_path / "trace.html"
    aifactory(home, "lineage", "trace", "acme:parental-leave.md", "--format", "html", "--out", str(page))
    assert "<svg" in page.read_text()
    assert as_json(aifactory(home, "lineage", "trace", "acme:parental-leave.md", "--json"))["chunks"]
    report = aifactory(home, "usage", "report", "--format", "csv").stdout
    assert report.startswith("tenant,") and "acme" in report
    created = as_json(aifactory(home, "keys", "create", "--tenant", "acme", "--role", "reader", "--json"))
    assert created["regions"] == ["eu-central"] and created["token"].startswith("aif_")
    stored = (home / "keys" / "api-keys.json").read_text()
    assert created["token"] not in stored, "the key itself must not be stored"
    assert [k["key_id"] for k in as_json(aifactory(home, "keys", "list", "--json"))] == [created["key_id"]]

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIFACTORY_", "KAFKA_"))}
    auth = {"Authorization": f"Bearer {created['token']}"}
    with aifactory_serve({**env, "AIFACTORY_HOME": str(home)}, stderr=subprocess.STDOUT) as served:
        url = served.url
        hits = httpx.post(url + "/v1/search", json={"query": "parental leave"}, headers=auth, timeout=30).json()
        assert hits["hits"][0]["citation"]["document_id"] == "acme:parental-leave.md"
        aifactory(home, "keys", "revoke", created["key_id"])
        after = httpx.post(url + "/v1/search", json={"query": "parental leave"}, headers=auth, timeout=30)
        assert after.status_code == 401 and "revoked" in after.json()["detail"]
    server, out = served.proc, served.out
    assert server.returncode == 0, out
    ledger = [json.loads(line) for line in (home / "governance" / "usage.jsonl").read_text().splitlines()]
    assert [e["tenant"] for e in ledger if e["event"] == "query"] == ["acme"], "the query was not metered"


def test_search_refuses_a_malformed_filter_or_offset_before_loading_anything(tmp_path: Path) -> None:
    proc = aifactory(tmp_path / "home", "search", "x", "--tenant", "a", "--filter", "section>=B", expect=2)
    assert "ranges apply to page, chunk_no, version, event_time only" in proc.stderr
    proc = aifactory(tmp_path / "home", "search", "x", "--tenant", "a", "--offset", "-1", expect=2)
    assert "must be 0 or more" in proc.stderr and "Traceback" not in proc.stderr
    proc = aifactory(tmp_path / "home", "eval", "--corpus", "c.jsonl", expect=2)
    assert "a BEIR set needs --corpus, --queries and --qrels together" in proc.stderr


def test_audit_verify_catches_an_emptied_log_and_a_damaged_head_without_a_traceback(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for tenant in ("acme", "beta"):
        aifactory(home, "keys", "create", "--tenant", tenant, "--role", "reader", "--region", "eu-central")
    assert "2 entries, chain intact" in aifactory(home, "audit", "verify").stdout
    log = home / "governance" / "audit.jsonl"
    head = log.with_suffix(".head")
    head.write_bytes(b"\xff")  # not even UTF-8
    damaged = aifactory(home, "audit", "verify", expect=1)
    assert "BROKEN" in damaged.stdout and "damaged" in damaged.stdout and "Traceback" not in damaged.stderr
    log.write_text("")  # the log emptied and its head removed: the anchor outside the home still says 2
    head.unlink()
    emptied = aifactory(home, "audit", "verify", expect=1)
    assert "says 2" in emptied.stdout and "Traceback" not in emptied.stderr



def test_no_api_key_is_made_when_the_audit_key_cannot_be_had(tmp_path: Path) -> None:
    """A key made but not audited would be a hole: the audit key is read first."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIFACTORY_", "KAFKA_"))}
    env.update(AIFACTORY_HOME=str(home), AIFACTORY_AUDIT_KEY_FILE="/proc/no-such-dir/audit.key")
    done = subprocess.run([sys.executable, "-m", "aifactory.cli", "keys", "create", "--tenant", "acme", "--role",
                           "reader", "--region", "eu-central"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "AIFACTORY_AUDIT_KEY_FILE" in done.stderr and "Traceback" not in done.stderr
    assert "no keys yet" in aifactory(home, "keys", "list").stdout


def test_key_changes_are_audited_with_what_changed_and_never_the_token(tmp_path: Path) -> None:
    home = tmp_path / "home"
    created = as_json(aifactory(home, "keys", "create", "--tenant", "acme", "--role", "reader", "--region",
                                "eu-central", "--scope", "search", "--expires", "30d", "--json"))
    assert created["scopes"] == ["search"] and created["expires_at"]
    said = aifactory(home, "keys", "update", created["key_id"], "--role", "writer", "--scope", "documents:write",
                     "--expires", "never").stdout
    assert "role reader -> writer" in said and "scopes search -> documents:write" in said
    aifactory(home, "keys", "revoke", created["key_id"])
    log = home / "governance" / "audit.jsonl"
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["action"] for e in entries] == ["keys.create", "keys.update", "keys.revoke"]
    assert entries[1]["details"]["changed"] == {
        "role": {"from": "reader", "to": "writer"}, "scopes": {"from": ["search"], "to": ["documents:write"]},
        "expires_at": {"from": created["expires_at"], "to": ""}}
    assert created["token"] not in log.read_text()
    assert "3 entries, chain intact" in aifactory(home, "audit", "verify").stdout


def test_an_auditor_verifies_an_export_offline_with_the_public_key(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for tenant in ("acme", "beta"):
        aifactory(home, "keys", "create", "--tenant", tenant, "--role", "reader", "--region", "eu-central")
    out = tmp_path / "audit-export.json"
    wrote = as_json(aifactory(home, "audit", "export", "--out", str(out), "--json"))
    assert wrote["entries"] == 2
    key = as_json(aifactory(home, "audit", "public-key", "--json"))["public_key"]
    assert key == wrote["public_key"]
    # The auditor's machine: no data directory, no audit key, another user's home.
    desk = tmp_path / "auditor"
    desk.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIFACTORY_", "KAFKA_"))} | {"HOME": str(desk)}

    def offline(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "aifactory.cli", "audit", "verify", "--export", str(out), *args],
                              env=env, cwd=desk, capture_output=True, text=True, timeout=120)

    good = offline("--public-key", key)
    assert good.returncode == 0 and "2 entries, signature and chain intact" in good.stdout, good.stdout + good.stderr
    assert list(desk.iterdir()) == [], "verifying offline wrote something (a data directory, a key)"
    out.write_text(out.read_text().replace('"beta"', '"gamma"'))
    bad = offline("--public-key", key)
    assert bad.returncode == 1 and "altered after it was made" in bad.stdout and "Traceback" not in bad.stderr


def test_a_run_that_changes_nothing_does_not_load_the_model_and_an_edit_does(tmp_path: Path) -> None:
    """The index opens by the active model's id and dimension; the model (torch, weights:
    seconds on a CPU) loads only when a chunk is to be embedded."""
    src = tmp_path / "src"
    shutil.copytree(CORPUS / "hr", src / "hr")
    home = tmp_path / "home"
    args = ["run", str(src), "--tenant", "helio-eu", "--jurisdiction", "EU", "--json"]
    first = as_json(aifactory(home, *args))["run"]
    assert first["points_upserted"] > 0
    code = ("import sys; from aifactory.cli import main\ncode = main(sys.argv[1:])\n"
            "print('MODEL', 'sentence_transformers' in sys.modules, file=sys.stderr); sys.exit(code)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIFACTORY_", "KAFKA_"))}
    env["AIFACTORY_HOME"] = str(home)

    def run() -> tuple[dict[str, Any], str]:
        proc = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
                              timeout=300, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)["run"], proc.stderr

    again, said = run()
    assert again["published"] == 0 and again["points_upserted"] == 0 and "MODEL False" in said, said
    edited = next((src / "hr").iterdir())
    edited.write_text(edited.read_text() + "\n\nRevised: the policy now also covers contractors.\n")
    changed, said = run()
    assert changed["published"] == 1 and changed["points_upserted"] >= 1 and "MODEL True" in said, said
    hit = json.loads(aifactory(home, "search", "policy covers contractors", "--tenant", "helio-eu", "--json").stdout)
    assert hit and hit[0]["document_id"] == f"helio-eu:hr/{edited.name}"
