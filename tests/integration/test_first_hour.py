"""A new user's first hour, on the README's defaults: no AIFACTORY_HOME, no variables,
the data directory `./.aifactory` relative to the folder the command runs in, each
command starting its own embedded broker. Every mistake gets one line and exit 2,
never a Python traceback."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.settings import PROJECT_ROOT
from tests.fixtures.procs import pids_with_home

pytestmark = pytest.mark.integration

CORPUS = PROJECT_ROOT / "examples" / "corpus" / "helio-eu" / "hr"


def defaults_env() -> dict[str, str]:
    """The shell of a newcomer: none of the project's variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AIFACTORY_", "KAFKA_", "QDRANT_"))}


def aifactory(cwd: Path, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "aifactory.cli", *args], env=defaults_env(), cwd=cwd,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == expect, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    return proc


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder with good, empty and binary files, run once with the default data directory."""
    cwd = tmp_path_factory.mktemp("newcomer")
    docs = cwd / "docs"
    docs.mkdir()
    for name in ("remote-work.md", "parental-leave.md"):
        shutil.copy(CORPUS / name, docs / name)
    (docs / "empty.txt").write_bytes(b"")
    (docs / "blob.bin").write_bytes(bytes(range(256)) * 8)
    yield cwd


@pytest.fixture(scope="module")
def first_run(workdir: Path) -> subprocess.CompletedProcess[str]:
    # Lower-case jurisdiction, as people type it.
    return aifactory(workdir, "run", "docs", "--tenant", "t1", "--jurisdiction", "eu")


def test_bad_files_in_the_default_home_become_dead_letters(workdir: Path,
                                                           first_run: subprocess.CompletedProcess[str]) -> None:
    assert (workdir / ".aifactory" / "lake").is_dir(), "the default data directory is ./.aifactory"
    assert "held: t1: 2 documents" in first_run.stdout
    letters = json.loads(aifactory(workdir, "dlq", "list", "--json").stdout)
    assert sorted(Path(d["source_uri"]).name for d in letters) == ["blob.bin", "empty.txt"]
    for letter in letters:
        assert letter["source_uri"].startswith(f"file://{workdir}/docs/")
        if letter["original_uri"]:
            assert letter["original_uri"].startswith(f"file://{workdir}/.aifactory/lake/")


def test_the_run_shows_each_stage_as_it_starts(first_run: subprocess.CompletedProcess[str]) -> None:
    lines = first_run.stderr.splitlines()
    assert lines[0].startswith("aifactory run: starting"), lines[:3]
    stages = [line.split("]", 1)[1].split()[0] for line in lines if line.startswith("[")]
    # Each stage says when it starts, then how it ended, in the order of the flow.
    assert [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s] == ["start", "scan", "broker", "stream",
                                                                                 "index"]
    assert any("2 new dead letter(s)" in line for line in lines)


def test_a_single_file_can_be_run_without_touching_its_folder(workdir: Path,
                                                              first_run: subprocess.CompletedProcess[str]) -> None:
    doc = workdir / "docs" / "remote-work.md"
    doc.write_text(doc.read_text() + "\n\n## Update\n\nRemote days are agreed with the team lead.\n")
    ran = json.loads(aifactory(workdir, "run", "docs/remote-work.md", "--tenant", "t1", "--jurisdiction",
                               "EU", "--json").stdout)["run"]
    assert (ran["files"], ran["published"], ran["deleted"]) == (1, 1, 0)
    tenant = json.loads(aifactory(workdir, "status", "--json").stdout)["tenants"]["t1"]
    assert tenant["documents"] == 2, "the other file of the folder must stay"


def test_read_commands_in_a_folder_without_data_say_where_to_look(tmp_path: Path) -> None:
    for args in (["status"], ["search", "leave", "--tenant", "t1"], ["lineage", "trace", "x"], ["dlq", "list"]):
        proc = aifactory(tmp_path, *args, expect=2)
        assert "no data directory at" in proc.stderr and "AIFACTORY_HOME" in proc.stderr
    assert not (tmp_path / ".aifactory").exists(), "a read command created an empty data directory"


# Mistakes argparse or the light checks catch: answered without loading anything.
PARSE_MISTAKES = [
    ([], "the following arguments are required: COMMAND"),
    (["nosuch"], "invalid choice: 'nosuch'"),
    (["run", "docs"], "pass --tenant and --jurisdiction"),
    (["run", "--tenant", "t1"], "apply to PATHs"),
    (["run", "nosuch", "--tenant", "t1", "--jurisdiction", "EU"], "no such file or folder: nosuch"),
    (["run", "--follow", "--ask", "why?"], "--ask answers after a one-shot run"),
    (["ingest", "docs"], "the following arguments are required: --tenant, --jurisdiction"),
    (["search", "leave"], "the following arguments are required: --tenant"),
    (["search", "leave", "--tenant", "t1", "--filter", "document_id"], "expected KEY=VALUE"),
    (["search", "leave", "--tenant", "t1", "--filter", "colour=red"], "unknown filter key 'colour'"),
    (["search", "leave", "--tenant", "t1", "--top-k", "0"], "must be 1 or more"),
    (["search", "leave", "--tenant", "t1", "--mode", "fuzzy"], "invalid choice: 'fuzzy'"),
    (["run", "docs", "--tenant", "../../escaped", "--jurisdiction", "EU"], "is not a tenant name"),
    (["erase", "--tenant", "t1"], "one of the arguments --subject --document is required"),
    (["keys", "revoke"], "name the key id"),
    (["keys", "update"], "keys update: name the key id"),
    (["audit", "export"], "name the file to write with --out FILE"),
    (["audit", "verify", "--export", "nosuch.json"], "--export nosuch.json: no such file"),
    (["audit", "verify", "--public-key", "ab12"], "--public-key checks an export"),
    (["keys", "update", "k1", "--tenant", "t2"], "a key's tenant cannot change"),
    (["keys", "create", "--tenant", "t1", "--role", "reader", "--scope", "everything"], "invalid choice: 'everything'"),
    (["lineage", "trace"], "lineage trace: name a document id or a point id"),
    (["lineage", "graph", "t1:doc.md"], "lineage graph: takes no id"),
    (["eval", "--corpus", "c.jsonl", "--queries", "q.jsonl", "--qrels", "r.tsv"], "--corpus c.jsonl: no such file"),
    (["reindex", "--model", "nosuch-model"], "no such folder"),
    (["serve", "--port", "http"], "expected a whole number"),
    (["quarantine", "list"], "the following arguments are required: --tenant"),
    (["quarantine", "release", "--tenant", "t1", "--reason", "fine"], "quarantine release: name the chunk ids"),
    (["quarantine", "hold", "c1", "--tenant", "t1"], "quarantine hold: give --reason"),
    (["quarantine", "list", "c1", "--tenant", "t1"], "quarantine list: takes only --tenant"),
]


@pytest.mark.parametrize(("args", "says"), PARSE_MISTAKES, ids=[" ".join(a) or "nothing" for a, _ in PARSE_MISTAKES])
def test_classic_mistakes_are_refused_with_usage(workdir: Path, args: list[str], says: str) -> None:
    proc = aifactory(workdir, *args, expect=2)
    assert says in proc.stderr


# Mistakes only the data can reveal.
DATA_MISTAKES = [
    (["run", "docs", "--tenant", "t1", "--jurisdiction", "Mars"], "jurisdiction 'Mars' is not in the residency policy"),
    (["search", "leave", "--tenant", "t2"], "tenant 't2' has no documents"),
    (["lineage", "trace", "t1:nosuch.md"], "no document or point 't1:nosuch.md'"),
    (["usage", "report", "--period", "last-week"], "period 'last-week' is not one of"),
    (["usage", "report", "--tenant", "nosuch"], "tenant 'nosuch' has no usage"),
    (["keys", "revoke", "nosuchkey"], "no key 'nosuchkey'"),
    (["keys", "update", "nosuchkey", "--role", "writer"], "no key 'nosuchkey'"),
    (["keys", "update", "nosuchkey"], "needs what to change"),
    (["keys", "create", "--tenant", "t1", "--role", "reader", "--scope", "usage"], "role reader cannot do usage"),
    (["keys", "create", "--tenant", "t1", "--role", "reader", "--expires", "soon"], "neither a span"),
    (["keys", "create", "--tenant", "t1", "--role", "reader", "--expires", "2020-01-01"], "is in the past"),
    (["delete", "--tenant", "t2", "--document", "t2:x.md"], "tenant 't2' has no documents"),
    (["delete", "--tenant", "t1", "--subject", "Ana"], "'Ana' is not one identifier the detectors recognise"),
    (["quarantine", "list", "--tenant", "t2"], "tenant 't2' has no documents"),
    (["quarantine", "release", "nosuch", "--tenant", "t1", "--reason", "fine"],
     "nosuch: not a quarantined chunk of tenant 't1'"),
]


@pytest.mark.parametrize(("args", "says"), DATA_MISTAKES, ids=[" ".join(a) for a, _ in DATA_MISTAKES])
def test_mistakes_about_the_data_name_what_to_do(workdir: Path, first_run: subprocess.CompletedProcess[str],
                                                 args: list[str], says: str) -> None:
    proc = aifactory(workdir, *args, expect=2)
    assert says in proc.stderr


def test_the_run_level_lineage_graph_after_the_first_run(workdir: Path,
                                                          first_run: subprocess.CompletedProcess[str]) -> None:
    """Relative defaults: the graph of the first run, as a page and as JSON, names the lake by
    its absolute path on this host (two homes never share a node)."""
    wrote = aifactory(workdir, "lineage", "graph", "--format", "html", "--out", "graph.html").stdout
    assert wrote.startswith("wrote graph.html:") and "jobs" in wrote
    page = (workdir / "graph.html").read_text()
    assert "<svg" in page and "<script" not in page and str(workdir / ".aifactory" / "lake" / "raw") in page
    graph = json.loads(aifactory(workdir, "lineage", "graph", "--json").stdout)
    assert {j["name"] for j in graph["jobs"]} >= {"aifactory.run"}
    assert any(d["name"] == str(workdir / ".aifactory" / "lake" / "chunks") for d in graph["datasets"])


def test_help_answers_without_loading_the_pipeline() -> None:
    code = ("import sys, aifactory.cli as c\n"
            "try:\n    c.main(['run', '--help'])\nexcept SystemExit:\n    pass\n"
            "print([m for m in ('torch', 'duckdb', 'pyarrow', 'qdrant_client', 'fastapi', 'aifactory.commands')"
            " if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=defaults_env(),
                          timeout=60)
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout + proc.stderr
    shown = " ".join(proc.stdout.split())  # argparse wraps lines
    assert "examples:" in shown and "(default: 1.0)" in shown


def test_ctrl_c_stops_a_run_without_a_traceback_or_leftovers(workdir: Path,
                                                            first_run: subprocess.CompletedProcess[str]) -> None:
    src = workdir / "more"
    shutil.copytree(CORPUS, src)
    # The terminal sends SIGINT to the foreground process group: the command's own.
    proc = subprocess.Popen([sys.executable, "-m", "aifactory.cli", "run", "more", "--tenant", "t3",
                             "--jurisdiction", "EU"], cwd=workdir, env=defaults_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stderr is not None
    seen = []
    deadline = time.monotonic() + 120
    for line in proc.stderr:
        seen.append(line)
        if "] stream" in line or time.monotonic() > deadline:
            break
    os.killpg(proc.pid, signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    err = "".join(seen) + err
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    time.sleep(1)
    assert not pids_with_home("tansu", workdir / ".aifactory"), "the embedded broker outlived Ctrl-C"


def test_an_evaluation_that_indexed_less_than_its_corpus_fails_loudly(workdir: Path) -> None:
    beir = PROJECT_ROOT / "tests" / "data" / "beir"
    corpus = workdir / "corpus.jsonl"
    corpus.write_text((beir / "corpus.jsonl").read_text() + json.dumps({"_id": "empty", "title": "x", "text": ""})
                      + "\n")
    proc = aifactory(workdir, "eval", "--corpus", "corpus.jsonl", "--queries", str(beir / "queries.jsonl"),
                     "--qrels", str(beir / "qrels.tsv"), expect=2)
    assert "only 0 of the corpus's 15 records were indexed" in proc.stderr
    assert "the record has no text" in proc.stderr
