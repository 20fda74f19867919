"""The factory as long-lived services (`aifactory up`) on the real embedded broker, as
people use it: commands are its clients; two transform workers and two landers share
the partitions, and one of each killed with SIGKILL mid-stream loses and duplicates
nothing; Ctrl-C leaves no process behind. Before, every command started and stopped
its own broker, worker and landers, and a lander assigned itself every partition."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from assets import checks
from ingest.broker import free_port
from pipeline.presence import running
from tests.fixtures.procs import pids_with_home
from tests.integration.test_dagster import run_checks
from tests.integration.test_reindex import second_model
from tests.integration.test_shared_home import cli, duplicate_keys, env_for, folder, ledger, light_cli

pytestmark = pytest.mark.integration

UP_TIMEOUT_S = 300.0


@dataclass
class Up:
    home: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def said(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def factory_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    base = tmp_path_factory.mktemp("up")
    home, log = base / "home", base / "up.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "aifactory.cli", "up", "--workers", "2", "--landers", "2",
                                 "--port", str(free_port())], env=env_for(home), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    up = Up(home, proc, log)
    try:
        deadline = time.monotonic() + UP_TIMEOUT_S
        while "the factory is up" not in up.said():
            assert proc.poll() is None, f"aifactory up exited with {proc.returncode}:\n{up.said()}"
            assert time.monotonic() < deadline, f"not up after {UP_TIMEOUT_S:.0f} s:\n{up.said()}"
            time.sleep(0.5)
        yield up
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)


def memos(n: int) -> dict[str, str]:
    """Documents of a few chunks each, so a stream of them lasts long enough to kill a member mid-way."""
    return {f"memo-{i:03d}.md": f"# Memo {i}\n\n" + "\n\n".join(
        f"Section {s} of memo {i}: the warehouse in district {i * 7 + s} ships order Q-{i:03d}-{s} on "
        f"weekday {s % 5}; pallets are counted twice, and the forklift log names driver {i + s}. " * 6
        for s in range(4)) for i in range(n)}


def test_commands_are_clients_of_the_running_factory(factory_up: Up, tmp_path: Path) -> None:
    home = factory_up.home
    kinds = sorted(p.kind for p in running(home))
    assert kinds == ["api", "index", "land", "land", "transform", "transform", "up"], kinds
    docs = folder(tmp_path, "docs", {"canteen.md": "# Canteen\nThe Zanzibar canteen serves cardamom buns."})
    done = cli(home, "run", str(docs), "--tenant", "acme", "--jurisdiction", "EU", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)["run"]
    # Published into the factory and indexed by its indexer: the command started no stage of its own.
    assert summary["indexed_by"] == "the running indexer" and summary["published"] == 1
    assert "starting the embedded broker" not in done.stderr
    hit = cli(home, "search", "cardamom buns", "--tenant", "acme", "--json")
    assert json.loads(hit.stdout)[0]["document_id"] == "acme:canteen.md", hit.stderr
    status = json.loads(cli(home, "status", "--json").stdout)
    assert status["tenants"]["acme"]["points"] == status["tenants"]["acme"]["current_chunks"] >= 1
    assert {s["kind"] for s in status["in_use"]["services"]} == {"up", "api", "index", "land", "transform"}
    # The status came from the process that owns the index: the command loaded neither torch nor DuckDB.
    light = light_cli(home, "status", "--json")
    assert light.returncode == 0 and "LOADED False" in light.stderr, light.stderr
    assert json.loads(light.stdout)["tenants"]["acme"] == status["tenants"]["acme"]
    text = cli(home, "status")
    assert text.returncode == 0 and "acme" in text.stdout and "services:" in text.stdout, text.stderr
    # A reader beside the services: a Dagster check takes no lock the factory holds.
    assert run_checks(home, checks.index_completeness)["index_completeness"].passed


def test_a_release_is_applied_by_the_running_indexer(factory_up: Up, tmp_path: Path) -> None:
    """`aifactory quarantine release` beside `aifactory up`: the indexer's plan learns of the
    decision from the releases file and the command returns once the point is released."""
    from tests.integration.test_quarantine_review import TRAINING

    home = factory_up.home
    docs = folder(tmp_path, "bot", {"bot.md": TRAINING})
    assert cli(home, "run", str(docs), "--tenant", "bot", "--jurisdiction", "EU").returncode == 0
    listed = json.loads(cli(home, "quarantine", "list", "--tenant", "bot", "--json").stdout)
    hidden = cli(home, "search", "helpdesk bot password resets", "--tenant", "bot")  # answered by the owner
    assert "1 matching chunk(s) are quarantined" in hidden.stdout, hidden.stdout + hidden.stderr
    done = cli(home, "quarantine", "release", listed[0]["chunk_id"], "--tenant", "bot", "--reason", "our bot",
               "--json")
    assert json.loads(done.stdout)["indexed_by"] == "the running indexer", done.stderr
    hit = json.loads(cli(home, "search", "helpdesk bot password resets", "--tenant", "bot", "--json").stdout)[0]
    assert (hit["document_id"], hit["screening"]) == ("bot:bot.md", "released")


def test_run_delete_and_lineage_are_carried_out_by_the_running_factory(factory_up: Up, tmp_path: Path) -> None:
    """The command line sends the parsed command to the service that owns the index and
    prints what comes back: it loads neither torch nor DuckDB (aifactory/remote.py)."""
    home = factory_up.home
    docs = folder(tmp_path, "kilns", {"kiln.md": "# Kiln\nThe Oaxaca kiln fires terracotta jugs at dawn."})
    ran = light_cli(home, "run", str(docs), "--tenant", "kiln", "--jurisdiction", "EU", "--json")
    assert ran.returncode == 0 and "LOADED False" in ran.stderr, ran.stderr
    summary = json.loads(ran.stdout)["run"]
    assert summary["indexed_by"] == "the running indexer" and summary["published"] == 1
    hit = cli(home, "search", "terracotta jugs", "--tenant", "kiln", "--json")
    assert json.loads(hit.stdout)[0]["document_id"] == "kiln:kiln.md", hit.stderr
    traced = light_cli(home, "lineage", "trace", "kiln:kiln.md", "--tenant", "kiln", "--json")
    assert traced.returncode == 0 and "LOADED False" in traced.stderr, traced.stderr
    assert json.loads(traced.stdout)["source_uri"] == (docs / "kiln.md").as_uri()
    # A classic mistake, answered by the factory: one line, exit 2, no traceback.
    wrong = light_cli(home, "delete", "--tenant", "kiln", "--document", "kiln:nope.md")
    assert wrong.returncode == 2 and "LOADED False" in wrong.stderr, wrong.stderr
    assert "has no live document 'kiln:nope.md'" in wrong.stderr and "Traceback" not in wrong.stderr
    gone = light_cli(home, "delete", "--tenant", "kiln", "--document", "kiln:kiln.md", "--json")
    assert gone.returncode == 0 and "LOADED False" in gone.stderr, gone.stderr
    assert json.loads(cli(home, "search", "terracotta jugs", "--tenant", "kiln", "--json").stdout) == []
    # Settings other than the factory's: the command carries itself out, with the same answer.
    env = {**env_for(home), "AIFACTORY_FETCH_MAX_WAIT_MS": "40"}
    code = ("import sys; from aifactory.cli import main\ncode = main(['lineage', 'trace', 'kiln:kiln.md', "
            "'--tenant', 'kiln', '--json'])\nprint('LOADED', 'duckdb' in sys.modules, file=sys.stderr); sys.exit(code)")
    own = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert own.returncode == 0 and "LOADED True" in own.stderr, own.stderr
    assert json.loads(own.stdout)["state"] == "deleted"


def test_a_lander_and_a_worker_killed_mid_stream_lose_and_duplicate_nothing(factory_up: Up, tmp_path: Path) -> None:
    home, n = factory_up.home, 40
    docs = folder(tmp_path, "memos", memos(n))
    result: dict[str, subprocess.CompletedProcess[str]] = {}
    run = threading.Thread(target=lambda: result.setdefault("run", cli(
        home, "run", str(docs), "--tenant", "memos", "--jurisdiction", "EU", "--json")))
    run.start()
    raw = home / "lake" / "raw" / "region=eu-central" / "tenant=memos"
    deadline = time.monotonic() + 180
    while not (raw.exists() and any(raw.rglob("*.parquet"))):  # the stream has begun to land
        assert run.is_alive() or result, "the run ended before anything landed"
        assert time.monotonic() < deadline, "nothing landed within 180 s"
        time.sleep(0.05)
    victims = {kind: running(home, kind)[0].pid for kind in ("land", "transform")}
    for pid in victims.values():
        os.kill(pid, signal.SIGKILL)
    run.join(600)
    done = result["run"]
    assert done.returncode == 0, done.stderr
    assert duplicate_keys(home) == {"raw": 0, "chunks": 0}
    tenant = json.loads(cli(home, "status", "--json").stdout)["tenants"]["memos"]
    assert tenant["events"] == tenant["documents"] == n, tenant
    assert tenant["chunk_rows"] == tenant["current_chunks"] == tenant["points"] > n, tenant
    billed = sum(e["documents"] for e in ledger(home) if e["event"] == "ingest" and e["tenant"] == "memos")
    assert billed == n, "a document was billed twice"
    # The supervisor started both again.
    said = factory_up.said()
    assert said.count("killed by SIGKILL") >= 2 and "started again" in said, said
    deadline = time.monotonic() + 120
    while len(running(home, "land")) < 2 or len(running(home, "transform")) < 2:
        assert time.monotonic() < deadline, f"the killed services were not started again:\n{said}"
        time.sleep(0.5)
    assert not set(victims.values()) & {p.pid for p in running(home)}


def test_reindex_while_the_factory_is_up_switches_the_indexer_and_the_api(factory_up: Up, tmp_path: Path) -> None:
    home = factory_up.home
    api_before = running(home, "api")[0].pid
    done = cli(home, "reindex", "--model", str(second_model(tmp_path / "model")), "--json")
    assert done.returncode == 0, done.stderr
    new = json.loads((home / "index" / "active-model.json").read_text())["id"]
    deadline = time.monotonic() + 180
    while not [p for p in running(home, "api") if p.pid != api_before]:
        assert time.monotonic() < deadline, f"the API was not restarted on the new model:\n{factory_up.said()}"
        time.sleep(0.5)
    assert f"the active model is now {new}" in factory_up.said()
    docs = folder(tmp_path, "after", {"kiln.md": "# Kiln\nThe ceramic kiln in hall nine fires at 1280 degrees."})
    run = cli(home, "run", str(docs), "--tenant", "acme", "--jurisdiction", "EU", "--json")
    assert run.returncode == 0 and json.loads(run.stdout)["run"]["indexed_by"], run.stderr
    # Indexed into the new model's collections, and searched there.
    hit = cli(home, "search", "ceramic kiln temperature", "--tenant", "acme", "--json")
    assert hit.returncode == 0 and json.loads(hit.stdout)[0]["document_id"] == "acme:kiln.md", hit.stderr
    status = json.loads(cli(home, "status", "--json").stdout)
    assert status["model"] == new
    assert status["tenants"]["acme"]["points"] == status["tenants"]["acme"]["current_chunks"]


def test_classic_mistakes_get_one_line_and_exit_2(factory_up: Up, tmp_path: Path) -> None:
    second = cli(factory_up.home, "up", timeout=120)
    assert second.returncode == 2 and "Traceback" not in second.stderr, second.stderr
    assert "already up" in second.stderr and f"pid {factory_up.proc.pid}" in second.stderr, second.stderr
    alone = cli(tmp_path / "nothing-up", "worker", "land", timeout=120)
    assert alone.returncode == 2 and "Traceback" not in alone.stderr, alone.stderr
    assert "aifactory up" in alone.stderr and "KAFKA_BOOTSTRAP_SERVERS" in alone.stderr, alone.stderr
    wrong = cli(factory_up.home, "worker", "embed", timeout=60)
    assert wrong.returncode == 2 and "invalid choice: 'embed'" in wrong.stderr, wrong.stderr


def test_ctrl_c_stops_every_service_and_leaves_no_process(factory_up: Up) -> None:
    home, proc = factory_up.home, factory_up.proc
    assert pids_with_home("aifactory.cli worker|transforms.worker|tansu", home), "no services to stop"
    os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C in a terminal: the whole foreground group
    assert proc.wait(90) == 0, factory_up.said()
    assert "every service stopped" in factory_up.said()
    assert not pids_with_home("aifactory.cli|transforms.worker|tansu", home)
    assert running(home) == []
