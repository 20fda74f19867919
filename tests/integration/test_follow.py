"""Resident mode: a running follower makes edits, new files and deletes at the
source searchable within a few cycles, and leaves no process behind when stopped."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.sources import Source
from pipeline import runner
from pipeline.factory import Factory
from pipeline.follow import follow
from pipeline.settings import PROJECT_ROOT
from tests.conftest import MakeFactory
from vectorstore.search import search

pytestmark = pytest.mark.integration

CORPUS = PROJECT_ROOT / "examples" / "corpus" / "helio-us"
FILES = ("hr/parental-leave.md", "hr/travel-expenses.md", "it/suspicious-login-report.txt")
WAIT_S = 60.0


def copy_subset(dest: Path, files: tuple[str, ...] = FILES) -> Path:
    for rel in files:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(CORPUS / rel, dest / rel)
    return dest


def processes_with_env(entry: str) -> list[int]:
    """Live processes whose environment holds `entry` (NAME=value): what a follower started."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            env = (proc / "environ").read_bytes().split(b"\0")
            state = next((line for line in (proc / "status").read_text().splitlines() if line.startswith("State:")), "")
        except OSError:
            continue
        if entry.encode() in env and "zombie" not in state:
            pids.append(int(proc.name))
    return pids


class Running:
    """A follower in a thread. Checks run in its thread, after each cycle, so that
    only one thread ever touches the index."""

    def __init__(self, factory: Factory, sources: list[Source], interval_s: float = 0.2) -> None:
        self.factory, self.sources, self.interval_s = factory, sources, interval_s
        self.stop = threading.Event()
        self.reports: list[runner.RunReport] = []
        self.error: list[BaseException] = []
        self._check: Callable[[], bool] | None = None
        self._passed = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="follower")

    def _serve(self) -> None:
        try:
            follow(self.factory, self.sources, interval_s=self.interval_s, stop=self.stop, on_cycle=self._on_cycle)
        except Exception as exc:  # noqa: BLE001 - handed to the test thread
            self.error.append(exc)
            self._passed.set()

    def _on_cycle(self, report: runner.RunReport) -> None:
        self.reports.append(report)
        if self._check is not None and self._check():
            self._check = None
            self._passed.set()

    def until(self, check: Callable[[], bool], what: str) -> float:
        """Seconds until `check` holds after a cycle; fails after WAIT_S."""
        started = time.monotonic()
        self._passed.clear()
        self._check = check
        assert self._passed.wait(WAIT_S), f"{what}: not seen within {WAIT_S:.0f} s"
        assert not self.error, self.error
        return time.monotonic() - started


def top_document(factory: Factory, question: str) -> tuple[str, str]:
    [hit] = search(factory.index, factory.embedder, question, tenant="helio-us", top_k=1)
    return hit.document_id, hit.text


def documents(factory: Factory) -> set[str]:
    index = factory.index
    return {h.payload["document_id"] for r in index.regions() for h in index.points(r)}


def test_follower_makes_edits_additions_and_deletes_searchable(tmp_path: Path, make_factory: MakeFactory) -> None:
    root = copy_subset(tmp_path / "src")
    factory = make_factory(tmp_path / "home")
    running = Running(factory, [Source(root, "helio-us", "US")])
    running.thread.start()
    try:
        running.until(lambda: documents(factory) == {f"helio-us:{f}" for f in FILES}, "the first cycle")
        assert processes_with_env(f"AIFACTORY_TOPIC_PREFIX={factory.settings.kafka.topic_prefix}"), \
            "no transform worker is running"

        report = root / "it" / "suspicious-login-report.txt"
        report.write_text(report.read_text() + "\nUpdate: the badge reader in lobby B was replaced by Zebratron.\n")
        running.until(lambda: "Zebratron" in top_document(factory, "Who replaced the badge reader in lobby B?")[1],
                      "the edit")

        (root / "it" / "printers.md").write_text("# Printers\nThe third-floor printer is named Gutenberg-7; "
                                                 "it prints double-sided by default.\n")
        running.until(lambda: top_document(factory, "What is the third-floor printer called?")[0]
                      == "helio-us:it/printers.md", "the new file")

        (root / "hr" / "travel-expenses.md").unlink()
        running.until(lambda: "helio-us:hr/travel-expenses.md" not in documents(factory), "the delete")
        question = "What is the reimbursement rate per mile when I drive my own car for work?"
        assert top_document(factory, question)[0] != "helio-us:hr/travel-expenses.md"

        # Bad input is dead-lettered once, and the follower goes on.
        (root / "it" / "logo.bin").write_bytes(b"\x00\x01\x02")
        running.until(lambda: running.reports[-1].dead_letters_landed == 1, "the dead letter")
        cycles = len(running.reports)
        running.until(lambda: len(running.reports) >= cycles + 3, "three more cycles")
        assert all(r.dead_letters_landed == 0 and r.published == 0 for r in running.reports[cycles:])
    finally:
        running.stop.set()
        running.thread.join(120)
    assert not running.thread.is_alive() and not running.error, running.error
    summaries = [r.summary() for r in running.reports]
    assert sum(s["published"] for s in summaries) == len(FILES) + 3, [  # first run, edit, new file, delete
        (s["published"], [e.document_id for r in running.reports[n].ingest for e in r.published])
        for n, s in enumerate(summaries) if s["published"]]
    assert sum(s["dead_letters_landed"] for s in summaries) == 1
    assert summaries[0]["recovered"] == 0
    assert not processes_with_env(f"AIFACTORY_TOPIC_PREFIX={factory.settings.kafka.topic_prefix}"), \
        "the transform worker was left running"
    factory.close()


def test_follower_wakes_on_an_edit_well_before_the_interval(tmp_path: Path, make_factory: MakeFactory) -> None:
    root = copy_subset(tmp_path / "src", FILES[:1])
    factory = make_factory(tmp_path / "home")
    running = Running(factory, [Source(root, "helio-us", "US")], interval_s=30.0)
    running.thread.start()
    try:
        running.until(lambda: documents(factory) == {f"helio-us:{FILES[0]}"}, "the first cycle")
        time.sleep(0.5)  # the follower is waiting now, with 30 s to go
        cycles = len(running.reports)
        doc = root / FILES[0]
        doc.write_text(doc.read_text() + "\nUpdate: the leave policy now names Quillbrook as its sponsor.\n")
        seconds = running.until(lambda: "Quillbrook" in top_document(factory, "Who sponsors the leave policy?")[1],
                                "the edit")
        assert seconds < 10.0, f"the edit took {seconds:.1f} s: the follower waited for the interval"
        assert len(running.reports) == cycles + 1, "one edit, one cycle"
    finally:
        running.stop.set()
        running.thread.join(120)
    assert not running.thread.is_alive() and not running.error, running.error
    factory.close()


def test_run_follow_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    root = copy_subset(tmp_path / "src", FILES[:1])
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIFACTORY_", "KAFKA_"))}
    env["AIFACTORY_HOME"] = str(home)
    mine = f"AIFACTORY_HOME={home}"
    with subprocess.Popen([sys.executable, "-m", "aifactory.cli", "run", str(root), "--tenant", "helio-us",
                           "--jurisdiction", "US", "--follow", "--interval", "0.2", "--json"],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                          start_new_session=True) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            # One JSON line per cycle that did something; the first cycle's always.
            first = json.loads(proc.stdout.readline() or "null")
            assert first is not None, proc.stderr.read()
            assert first["cycle"] == 1 and first["run"]["published"] == 1
            assert len(processes_with_env(mine)) >= 3, "expected the CLI, the broker and the worker"
            doc = root / FILES[0]
            doc.write_text(doc.read_text() + "\nUpdate: adoption leave is now covered too.\n")
            second = json.loads(proc.stdout.readline() or "null")
            assert second["run"]["published"] == 1 and second["run"]["points_upserted"] >= 1
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)
        assert "stopped after" in proc.stderr.read()
    deadline = time.monotonic() + 10
    while processes_with_env(mine) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not processes_with_env(mine), "the broker or the worker was left running"
