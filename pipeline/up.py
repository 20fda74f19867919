"""`aifactory up`: the whole embedded factory as one supervised group.

    broker (Tansu, embedded; or the cluster of KAFKA_BOOTSTRAP_SERVERS)
    transform-1..N   aifactory worker transform     logs/services/transform-1.log
    land-1..N        aifactory worker land          logs/services/land-1.log
    index            aifactory worker index         logs/services/index.log
    api              aifactory serve                logs/services/api.log

Each service is a child process in a process group of its own, tied to this one
(it dies with it, even on kill -9). A service that exits is started again after a
pause that doubles with each crash in a row (1 s to 30 s); one that ran a minute
starts its count afresh. Ctrl-C or SIGTERM stops every service (SIGTERM to its
group, SIGKILL after a grace), then the broker, and leaves no process behind.
While it runs, `up` is announced with its broker's address (presence.py), which is
how services and commands started later find the factory.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ingest.broker import EmbeddedBroker, signal_name
from ingest.kafka import KafkaConnection, cluster_epoch
from ingest.processes import popen_tied
from pipeline.attach import ServiceError, up_card
from pipeline.factory import Factory
from pipeline.presence import present, running
from transforms.app import internal_topics

log = logging.getLogger(__name__)

STEP_S = 0.5
FIRST_BACKOFF_S, MAX_BACKOFF_S = 1.0, 30.0
STEADY_S = 60.0  # a service that ran this long has its crash count reset
STOP_GRACE_S = 20.0
READY_TIMEOUT_S = 120.0


@dataclass
class Child:
    name: str
    kind: str  # transform, land, index, api
    argv: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    crashes: int = 0
    restarts: int = 0
    started: float = 0.0
    due: float = 0.0  # when to start it again after a crash
    history: list[str] = field(default_factory=list)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def children(home: Path, *, transform_workers: int, landers: int, api: bool, host: str | None,
             port: int | None) -> list[Child]:
    logs = home / "logs" / "services"
    cli = [sys.executable, "-m", "aifactory.cli"]
    found = [Child(f"transform-{i}", "transform", [*cli, "worker", "transform"], logs / f"transform-{i}.log")
             for i in range(1, transform_workers + 1)]
    found += [Child(f"land-{i}", "land", [*cli, "worker", "land"], logs / f"land-{i}.log")
              for i in range(1, landers + 1)]
    found.append(Child("index", "index", [*cli, "worker", "index"], logs / "index.log"))
    if api:
        where = (["--host", host] if host else []) + (["--port", str(port)] if port else [])
        found.append(Child("api", "api", [*cli, "serve", *where], logs / "api.log"))
    return found


class Supervisor:
    def __init__(self, factory: Factory, kids: list[Child], *, say: Callable[[str], object] = log.info) -> None:
        self.factory, self.children, self.say = factory, kids, say
        self.home = factory.settings.home
        self.env = {**os.environ, "AIFACTORY_HOME": str(self.home)}
        self.model = self._active_model()

    def run(self, stop: threading.Event, *, on_ready: Callable[[list[Child]], object] | None = None) -> None:
        if (other := up_card(self.home)) is not None:
            raise ServiceError(f"the factory is already up on {self.home}: {other.describe()}; stop it first "
                               "(Ctrl-C where it runs, or kill -TERM its pid)")
        with self._broker() as (conn, broker), \
                present(self.home, "up", detail={"bootstrap": conn.bootstrap_servers, "epoch": conn.epoch,
                                                 "services": [c.name for c in self.children]}):
            conn.ensure_topics(internal_topics(conn.settings))
            try:
                for child in self.children:
                    self._start(child)
                self._until_ready(stop, broker)
                if on_ready is not None and not stop.is_set():
                    on_ready(self.children)
                while not stop.wait(STEP_S):
                    if broker is not None:
                        broker.check()
                    self._follow_model()
                    self._tend()
            finally:
                self._stop_all()

    @contextlib.contextmanager
    def _broker(self) -> Iterator[tuple[KafkaConnection, EmbeddedBroker | None]]:
        kafka = self.factory.settings.kafka
        if not kafka.embedded:
            yield KafkaConnection(kafka, kafka.bootstrap_servers, cluster_epoch(kafka.bootstrap_servers, kafka)), None
            return
        with EmbeddedBroker(self.factory.settings.log_dir / "services" / "broker.log") as broker:
            # No broker object in the connection: the services are other processes.
            yield KafkaConnection(kafka, broker.bootstrap_servers, broker.epoch), broker

    def _start(self, child: Child) -> None:
        child.log_path.parent.mkdir(parents=True, exist_ok=True)
        with child.log_path.open("ab") as out:
            child.proc = popen_tied(child.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
        child.started = time.monotonic()
        log.info("%s started (pid %d)", child.name, child.proc.pid)

    def _until_ready(self, stop: threading.Event, broker: EmbeddedBroker | None) -> None:
        """Wait until every service has announced itself (or one keeps crashing)."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not stop.wait(STEP_S):
            if broker is not None:
                broker.check()
            self._tend()
            pids = {p.pid for p in running(self.home)}
            if all(c.proc is not None and c.proc.pid in pids for c in self.children):
                return
            if time.monotonic() > deadline:
                late = [c.name for c in self.children if c.proc is None or c.proc.pid not in pids]
                raise ServiceError(f"{', '.join(late)} did not start within {READY_TIMEOUT_S:.0f} s; "
                                   f"see their logs under {self.home / 'logs' / 'services'}")

    def _tend(self) -> None:
        """Restart what exited, after its back-off."""
        now = time.monotonic()
        for child in self.children:
            if child.alive:
                if child.crashes and now - child.started > STEADY_S:
                    child.crashes = 0
                continue
            if child.proc is not None:  # it just exited
                code = child.proc.returncode
                child.proc = None
                child.crashes += 1
                pause = min(FIRST_BACKOFF_S * 2 ** (child.crashes - 1), MAX_BACKOFF_S)
                child.due = now + pause
                what = f"killed by {signal_name(-code)}" if code < 0 else f"exited with code {code}"
                child.history.append(what)
                self.say(f"{child.name} {what}; starting it again in {pause:.0f} s (see {child.log_path})")
            elif now >= child.due:
                self._start(child)
                child.restarts += 1
                self.say(f"{child.name} started again (pid {child.proc.pid if child.proc else '?'})")

    def _active_model(self) -> str:
        active = self.factory.active_model()
        return str(active["id"]) if active else ""

    def _follow_model(self) -> None:
        """After `aifactory reindex` switched models, restart the API on the new one (the
        indexer moves by itself, services.index); its searches pause while it loads."""
        model = self._active_model()
        if model == self.model:
            return
        if self.model:  # not the first model a first run made active
            for child in self.children:
                if child.kind == "api" and child.alive:
                    self.say(f"the active model is now {model}: restarting {child.name} to serve it")
                    self._stop([child])
                    self._start(child)
                    child.restarts += 1
        self.model = model

    def _stop_all(self) -> None:
        self._stop([c for c in self.children if c.alive])

    def _stop(self, live: list[Child]) -> None:
        """SIGTERM each service's group at once, then SIGKILL what is left after the grace."""
        for child in live:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.proc.pid, signal.SIGTERM)  # type: ignore[union-attr]
        deadline = time.monotonic() + STOP_GRACE_S
        for child in live:
            assert child.proc is not None
            try:
                child.proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                self.say(f"{child.name} did not stop within {STOP_GRACE_S:.0f} s; killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.proc.pid, signal.SIGKILL)
                child.proc.wait(10)
