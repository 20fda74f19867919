"""`aifactory up`'s supervisor over real short processes: a crash is noticed and the
service started again after a back-off that doubles; stopping SIGTERMs each group
and SIGKILLs what ignores it, leaving no process behind."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from pipeline import up
from pipeline.factory import Factory
from pipeline.settings import FactorySettings
from pipeline.up import Child, Supervisor, children

BACKOFF_S = 0.4
EXIT_3 = "import sys; sys.exit(3)"
SLEEP = "import time; print('ready', flush=True); time.sleep(60)"
DEAF = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
        "time.sleep(60)")

Supervise = Callable[..., Supervisor]


def python(name: str, code: str, home: Path) -> Child:
    return Child(name, "land", [sys.executable, "-c", code], home / "logs" / "services" / f"{name}.log")


@pytest.fixture
def supervise(tmp_path: Path) -> Iterator[Supervise]:
    """A supervisor of the given children; every process it started is stopped and reaped after the test."""
    made: list[Supervisor] = []

    def make(*kids: Child, said: list[str] | None = None) -> Supervisor:
        factory = SimpleNamespace(settings=FactorySettings(home=tmp_path), active_model=lambda: None)
        sup = Supervisor(cast(Factory, factory), list(kids),
                         say=said.append if said is not None else lambda _: None)
        made.append(sup)
        return sup

    yield make
    for sup in made:
        sup._stop_all()


def ready(child: Child, timeout_s: float = 20.0) -> None:
    """Wait until the child printed `ready` (its signal handlers are set by then)."""
    deadline = time.monotonic() + timeout_s
    while b"ready" not in (child.log_path.read_bytes() if child.log_path.exists() else b""):
        assert child.alive, f"{child.name} exited early: {child.log_path.read_bytes()!r}"
        assert time.monotonic() < deadline, f"{child.name} never got ready"
        time.sleep(0.02)


def gone(child: Child) -> bool:
    assert child.proc is not None
    if child.proc.poll() is None:
        return False
    try:
        os.killpg(child.proc.pid, 0)
    except ProcessLookupError:
        return True
    return False


def dead(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def test_a_crash_is_noticed_and_restarted_after_a_back_off_that_doubles(
        supervise: Supervise, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(up, "FIRST_BACKOFF_S", BACKOFF_S)
    said: list[str] = []
    child = python("land-1", EXIT_3, tmp_path)
    sup = supervise(child, said=said)
    sup._start(child)
    assert child.proc is not None and child.log_path.is_file()
    child.proc.wait(20)

    before = time.monotonic()
    sup._tend()
    after = time.monotonic()
    assert child.history == ["exited with code 3"] and child.crashes == 1 and child.restarts == 0
    assert child.proc is None
    assert before + BACKOFF_S <= child.due <= after + BACKOFF_S
    assert said[-1].startswith("land-1 exited with code 3; starting it again in")

    sup._tend()  # before its back-off: left alone
    assert child.proc is None and child.restarts == 0 and child.crashes == 1

    time.sleep(max(child.due - time.monotonic(), 0) + 0.01)
    sup._tend()
    assert child.restarts == 1 and child.proc is not None and said[-1].startswith("land-1 started again (pid ")
    child.proc.wait(20)

    before = time.monotonic()
    sup._tend()
    after = time.monotonic()
    assert child.history == ["exited with code 3"] * 2 and child.crashes == 2 and child.restarts == 1
    assert before + 2 * BACKOFF_S <= child.due <= after + 2 * BACKOFF_S


def test_a_kill_is_named_and_a_steady_run_resets_the_crash_count(
        supervise: Supervise, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(up, "FIRST_BACKOFF_S", 0.0)
    child = python("index", SLEEP, tmp_path)
    sup = supervise(child)
    sup._start(child)
    ready(child)
    assert child.proc is not None
    os.killpg(child.proc.pid, signal.SIGKILL)
    child.proc.wait(20)
    sup._tend()
    assert child.history == ["killed by SIGKILL"] and child.crashes == 1
    sup._tend()
    assert child.alive and child.crashes == 1
    child.started -= up.STEADY_S + 1  # as if it ran for over a minute since
    sup._tend()
    assert child.alive and child.crashes == 0


def test_stop_all_sigterms_at_once_and_does_not_wait_the_grace(
        supervise: Supervise, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(up, "STOP_GRACE_S", 30.0)
    kids = [python("transform-1", SLEEP, tmp_path), python("transform-2", SLEEP, tmp_path)]
    sup = supervise(*kids)
    for child in kids:
        sup._start(child)
    for child in kids:
        ready(child)
    started = time.monotonic()
    sup._stop_all()
    assert time.monotonic() - started < 5.0
    for child in kids:
        assert child.proc is not None and child.proc.returncode == -signal.SIGTERM
        assert gone(child)


def test_stop_all_sigkills_what_ignores_sigterm_after_the_grace(
        supervise: Supervise, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(up, "STOP_GRACE_S", 1.0)
    said: list[str] = []
    polite, deaf = python("land-1", SLEEP, tmp_path), python("api", DEAF, tmp_path)
    sup = supervise(deaf, polite, said=said)
    for child in (deaf, polite):
        sup._start(child)
    for child in (deaf, polite):
        ready(child)
    started = time.monotonic()
    sup._stop_all()
    took = time.monotonic() - started
    assert 0.9 <= took < 6.0, took  # waited the grace, not much more
    assert polite.proc is not None and polite.proc.returncode == -signal.SIGTERM
    assert deaf.proc is not None and deaf.proc.returncode == -signal.SIGKILL
    assert said == ["api did not stop within 1 s; killing it"]
    assert gone(polite) and gone(deaf)


def test_stop_all_stops_the_whole_group(supervise: Supervise, tmp_path: Path) -> None:
    code = ("import subprocess, time; p = subprocess.Popen(['sleep', '60']); print('ready', p.pid, flush=True); "
            "time.sleep(60)")
    child = python("transform-1", code, tmp_path)
    sup = supervise(child)
    sup._start(child)
    ready(child)
    grandchild = int(child.log_path.read_text().split()[1])
    sup._stop_all()
    assert child.proc is not None and child.proc.returncode == -signal.SIGTERM
    # Its own child was in its group: killed too (a zombie at most, until init reaps it; the group
    # then still answers os.killpg, so `gone` is not asked here).
    deadline = time.monotonic() + 10
    while not dead(grandchild):
        assert time.monotonic() < deadline, "the grandchild outlived the stop"
        time.sleep(0.05)


def test_children_of_up(tmp_path: Path) -> None:
    kids = children(tmp_path, transform_workers=2, landers=2, api=True, host=None, port=9000)
    assert [c.name for c in kids] == ["transform-1", "transform-2", "land-1", "land-2", "index", "api"]
    assert [c.kind for c in kids] == ["transform", "transform", "land", "land", "index", "api"]
    assert all(c.log_path == tmp_path / "logs" / "services" / f"{c.name}.log" for c in kids)
    assert all(c.argv[:3] == [sys.executable, "-m", "aifactory.cli"] for c in kids)
    assert kids[0].argv[3:] == ["worker", "transform"] and kids[2].argv[3:] == ["worker", "land"]
    assert kids[4].argv[3:] == ["worker", "index"]
    assert kids[5].argv[3:] == ["serve", "--port", "9000"]  # no --host when none is given
    assert all(c.proc is None and c.crashes == c.restarts == 0 for c in kids)

    bare = children(tmp_path, transform_workers=1, landers=1, api=False, host=None, port=None)
    assert [c.name for c in bare] == ["transform-1", "land-1", "index"]
    hosted = children(tmp_path, transform_workers=1, landers=1, api=True, host="0.0.0.0", port=None)
    assert hosted[-1].argv[3:] == ["serve", "--host", "0.0.0.0"]


def test_a_model_switch_restarts_the_api_on_the_new_model_and_leaves_the_others(tmp_path: Path) -> None:
    """`aifactory reindex` while the factory is up: the API serves the new model's collections."""
    models = iter([{"id": "old"}, {"id": "old"}, {"id": "new"}])
    factory = SimpleNamespace(settings=FactorySettings(home=tmp_path), active_model=lambda: next(models))
    said: list[str] = []
    api = Child("api", "api", [sys.executable, "-c", SLEEP], tmp_path / "api.log")
    land = python("land-1", SLEEP, tmp_path)
    sup = Supervisor(cast(Factory, factory), [api, land], say=said.append)
    try:
        for child in (api, land):
            sup._start(child)
            ready(child)
        first_api, first_land = api.proc, land.proc
        sup._follow_model()  # still "old": nothing happens
        assert api.proc is first_api and said == []
        sup._follow_model()  # "new"
        assert api.proc is not first_api and api.alive and api.restarts == 1
        assert first_api is not None and first_api.poll() is not None
        assert land.proc is first_land and land.alive
        assert said == ["the active model is now new: restarting api to serve it"]
    finally:
        sup._stop_all()
