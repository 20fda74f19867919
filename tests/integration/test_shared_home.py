"""One home, many users at once, as people use it: the API serving while the CLI asks
and runs and a Dagster check reads, and two runs started half a second apart. Before, the first case
failed with IndexBusyError in every command, and the second left duplicate chunk
rows and a double bill."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from assets import checks
from pipeline.writer import writing
from tests.fixtures.http import aifactory_serve
from tests.integration.test_dagster import run_checks

pytestmark = pytest.mark.integration

DOCS = {
    "canteen.md": "# Canteen\nThe Zanzibar canteen opens at 7:15 and serves cardamom buns on Fridays.",
    "parking.md": "# Parking\nVisitors park on level minus two; the barrier code changes every Monday.",
    "safety.md": "# Safety\nForklift drivers wear orange helmets in aisle seven at all times.",
}


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIFACTORY_", "KAFKA_", "QDRANT_"))}
    env["AIFACTORY_HOME"] = str(home)
    return env


def cli(home: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aifactory.cli", *args], env=env_for(home), capture_output=True,
                          text=True, timeout=timeout)


def light_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The command, which says on stderr whether it loaded torch or DuckDB ("LOADED True")."""
    code = (f"import sys; from aifactory.cli import main\ncode = main({list(args)!r})\n"
            "print('LOADED', 'torch' in sys.modules or 'duckdb' in sys.modules, file=sys.stderr); sys.exit(code)")
    return subprocess.run([sys.executable, "-c", code], env=env_for(home), capture_output=True, text=True,
                          timeout=120)


def folder(tmp_path: Path, name: str, docs: dict[str, str]) -> Path:
    path = tmp_path / name
    path.mkdir()
    for file, text in docs.items():
        (path / file).write_text(text)
    return path


def duplicate_keys(home: Path) -> dict[str, int]:
    """Row keys held more than once, per lake table."""
    out = {}
    with duckdb.connect() as con:
        for table, key in (("raw", "event_id"), ("chunks", "chunk_id")):
            files = f"{home}/lake/{table}/**/*.parquet"
            out[table] = con.execute(f"SELECT count(*) - count(DISTINCT {key}) FROM read_parquet(?)",
                                     [files]).fetchone()[0]
    return out


def ledger(home: Path) -> list[dict[str, Any]]:
    path = home / "governance" / "usage.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_two_runs_started_at_once_leave_the_home_as_one_run_would(tmp_path: Path) -> None:
    home, docs = tmp_path / "home", folder(tmp_path, "docs", DOCS)
    args = ("run", str(docs), "--tenant", "acme", "--jurisdiction", "EU")
    results: dict[str, subprocess.CompletedProcess[str]] = {}

    def start(name: str) -> None:
        results[name] = cli(home, *args)

    first = threading.Thread(target=start, args=("first",))
    first.start()
    time.sleep(0.5)
    start("second")
    first.join()
    for name, proc in results.items():
        assert proc.returncode == 0, f"{name}: {proc.stderr}"
        assert "Traceback" not in proc.stderr
    said = results["first"].stderr + results["second"].stderr
    assert "waiting for `" in said and "to finish writing to" in said, said

    assert duplicate_keys(home) == {"raw": 0, "chunks": 0}
    status = json.loads(cli(home, "status", "--json").stdout)
    totals = status["totals"]
    assert totals["events"] == totals["documents"] == len(DOCS)
    assert totals["chunk_rows"] == totals["current_chunks"] == totals["points"] >= len(DOCS)
    billed = {(e["event"], k): 0 for e in ledger(home) for k in ("documents", "chunks", "texts")}
    for e in ledger(home):
        for k in ("documents", "chunks", "texts"):
            billed[(e["event"], k)] += e[k]
    assert billed[("ingest", "documents")] == len(DOCS), "the ledger billed documents twice"
    assert billed[("chunking", "chunks")] == billed[("embedding", "texts")] == totals["points"]


def test_a_write_asked_not_to_wait_is_refused_naming_the_holder(tmp_path: Path) -> None:
    home, docs = tmp_path / "home", folder(tmp_path, "docs", {"one.md": "# One\nA single short note."})
    with writing(home, command="aifactory run (the test)"):
        proc = cli(home, "--no-wait", "run", str(docs), "--tenant", "acme", "--jurisdiction", "EU")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert f"pid {os.getpid()}" in proc.stderr and "aifactory run (the test)" in proc.stderr, proc.stderr
    assert "--no-wait" in proc.stderr  # says how to queue instead


def test_the_api_serving_while_the_cli_asks_and_runs_on_the_same_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = cli(home, "run", str(folder(tmp_path, "docs", DOCS)), "--tenant", "acme", "--jurisdiction", "EU")
    assert first.returncode == 0, first.stderr
    key = json.loads(cli(home, "keys", "create", "--tenant", "acme", "--role", "reader", "--json").stdout)
    with aifactory_serve(env_for(home), ready="/readyz") as served:
        # A first API search: the API has the index open from here on, as in daily use.
        hit = httpx.post(served.url + "/v1/search", json={"query": "cardamom buns"}, timeout=60,
                         headers={"Authorization": f"Bearer {key['token']}"})
        assert hit.status_code == 200 and hit.json()["hits"][0]["citation"]["document_id"] == "acme:canteen.md"
        card = json.loads((home / "index" / ".owner.json").read_text())
        assert card["pid"] == served.proc.pid and card["command"].endswith("serve")
        new = folder(tmp_path, "new", {"printer.md": "# Printers\nThe magenta printer on floor three jams on A3."})
        calls = {
            "status": ("status", "--json"),
            "search": ("search", "cardamom buns", "--tenant", "acme", "--json"),
            "lineage": ("lineage", "trace", "acme:canteen.md", "--json"),
            "run": ("run", str(new), "--tenant", "acme", "--jurisdiction", "EU", "--json"),
        }
        done: dict[str, subprocess.CompletedProcess[str]] = {}
        threads = [threading.Thread(target=lambda n=n, a=a: done.__setitem__(n, cli(home, *a)))
                   for n, a in calls.items()]
        checked: list[dict[str, Any]] = []  # a Dagster check at the same time, in this process
        threads.append(threading.Thread(target=lambda: checked.append(run_checks(home, checks.index_completeness))))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # It ran to an evaluation (it may count the run's new document as not yet indexed).
        assert checked and "index_completeness" in checked[0]
        for name, proc in done.items():
            assert proc.returncode == 0 and "IndexBusy" not in proc.stderr, f"{name}: {proc.stderr}"
        assert json.loads(done["status"].stdout)["totals"]["points"] >= len(DOCS)
        assert json.loads(done["search"].stdout)[0]["document_id"] == "acme:canteen.md"
        assert json.loads(done["run"].stdout)["run"]["points_upserted"] >= 1
        # The run wrote through the API's process: the API and the CLI see the new document.
        after = cli(home, "search", "magenta printer jams", "--tenant", "acme", "--json")
        assert json.loads(after.stdout)[0]["document_id"] == "acme:printer.md", after.stderr
        assert httpx.get(served.url + "/readyz", timeout=10).json()["checks"]["index"] == "ok"
        assert run_checks(home, checks.index_completeness)["index_completeness"].passed
        # The API answered that search with its loaded model: the command loaded neither torch nor DuckDB.
        light = light_cli(home, "search", "magenta printer", "--tenant", "acme", "--json")
        assert light.returncode == 0 and "LOADED False" in light.stderr, light.stderr
        assert json.loads(light.stdout)[0]["document_id"] == "acme:printer.md"
    assert not (home / "index" / ".owner.json").exists(), "the API left its owner card behind"

