"""Resident mode (`aifactory run --follow`): the pipeline as a service.

A `Follower` holds what a one-shot run starts and stops each time open across
cycles: the broker connection, the faust worker, the landers and the index plan.
Each `cycle()` rescans the sources and drives only what changed through the same
stages as `pipeline.run`, with the same guarantees: the scan compares the folders
with the raw lake, outcomes are read back from the lake, the index sync is a set
difference against the index. The first cycle is a whole run (it also recovers
raw-lake events whose outcome never landed); later ones cost little when little
changed: the scan cache spares parsing unchanged files, and the plan is brought
up to date from the lake files that appeared since (`vectorstore.sync.LivePlan`).

    with connect(...) as conn, Follower(factory, sources, conn) as follower:
        report = follower.cycle()

`follow` loops over cycles until asked to stop; it starts the next cycle as soon
as a file under a source changes (`pipeline.watch`), and every `interval_s` in
any case, for the changes a watch misses. A cycle whose worker or landers fail
restarts them, and the next cycle picks up what was left (nothing is
acknowledged before it is durable).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType

from kafka.errors import KafkaError

from ingest.errors import LakeError, LandingTimeout
from ingest.kafka import KafkaConnection
from ingest.raw_view import RawView
from ingest.sources import Source
from pipeline.attach import attached
from pipeline.client import RemoteStream, wait_indexed
from pipeline.factory import Factory
from pipeline.project import Project
from pipeline.runlineage import complete
from pipeline.runner import RunReport, connection
from pipeline.scan import plan
from pipeline.signals import stop_on_signal
from pipeline.stream import StopRequested, Stream
from pipeline.watch import Watcher
from transforms.worker import TransformWorkerError

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 1.0
# A cycle that fails this many times in a row stops the service.
MAX_FAILED_CYCLES = 3
# Failures of the running stages that a restart of the worker and landers can cure.
RECOVERABLE = (TransformWorkerError, LandingTimeout, LakeError, KafkaError)


def did_something(report: RunReport) -> bool:
    """Whether a cycle changed anything: published, recovered, landed or indexed."""
    s = report.summary()
    return any(s[k] for k in ("published", "recovered", "raw_landed", "chunks_landed", "dead_letters_landed",
                              "points_upserted", "points_deleted")) or bool(report.index and report.index.repointed)


class Follower:
    """Keeps the worker, the landers and the index plan open over one connection."""

    def __init__(self, factory: Factory, sources: list[Source], conn: KafkaConnection, *,
                 progress: bool = False, remote: bool = False) -> None:
        self.factory, self.sources, self.conn, self.progress = factory, sources, conn, progress
        self.remote = remote  # the factory is up: publish into it, its indexer syncs (client.py)
        self.stream: Stream | RemoteStream | None = None
        self.project = None if remote else Project(factory, live=True)  # with the factory up: its indexer
        self.cycles = 0
        self._landed: dict[str, int] = {}
        self._recover = True  # look for raw-lake events without an outcome (first cycle, after a failure)
        self.raw = RawView(factory.lake)  # what each scan compares with, read once, then only new files

    def start(self) -> Follower:
        self.stream = RemoteStream(self.factory, self.conn, land_raw=True) if self.remote else \
            Stream(self.factory, self.conn, land_raw=True).start()
        self._landed = self.stream.landed()
        return self

    def stop(self) -> None:
        stream, self.stream = self.stream, None
        if stream is not None:
            stream.stop()

    def restart(self) -> None:
        """A fresh worker and landers, after a failure; the next cycle recovers
        whatever the failed one left without an outcome."""
        try:
            self.stop()
        except Exception:  # the stage already failed; its successor takes over
            log.warning("stopping the failed stream raised", exc_info=True)
        self._recover = True
        self.start()

    def __enter__(self) -> Follower:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def cycle(self, should_stop: Callable[[], bool] | None = None) -> RunReport:
        """Rescan the sources and drive what changed until it is searchable; each cycle
        holds the writer lock, so other commands write between cycles (writer.py)."""
        with self.factory.writing(say=log.info):
            return self._cycle(should_stop)

    def _cycle(self, should_stop: Callable[[], bool] | None) -> RunReport:
        stream = self.stream
        if stream is None:
            raise RuntimeError("the follower is not started")
        factory = self.factory
        report = RunReport()
        started = time.perf_counter()
        stream.run_id = report.run_id  # what lands from now on is metered under this cycle
        # A file that still fails gives the same dead letter each scan; send only new ones.
        batch = plan(factory, self.sources, report.run_id, recover=self._recover,
                     known_letters=stream.outcomes.letters, raw=self.raw)
        report.ingest = batch.ingest
        report.seconds["scan"] = time.perf_counter() - started
        if batch:
            t = time.perf_counter()
            report.recovered = stream.drive(batch, should_stop=should_stop)
            report.seconds["stream"] = time.perf_counter() - t
        self._recover = False
        stream.check()  # a lander that died between cycles
        stream.collect()  # chunks of events other producers put on the raw topic, so their rows are not held
        landed = stream.landed()
        report.raw_landed = landed.get("raw", 0) - self._landed.get("raw", 0)
        report.chunks_landed = landed.get("chunks", 0) - self._landed.get("chunks", 0)
        report.dead_letters_landed = landed.get("dead_letters", 0) - self._landed.get("dead_letters", 0)
        self._landed = landed
        t = time.perf_counter()
        if self.remote and wait_indexed(factory, time.time(), should_stop=should_stop):
            report.indexed_by = "the running indexer"
        else:
            self.project = self.project or Project(factory, live=True)
            report.index = self.project(report.run_id, progress=self.progress and not self.cycles)
        report.seconds["index"] = time.perf_counter() - t
        report.seconds["total"] = time.perf_counter() - started
        if batch or report.index is not None:  # with the factory up, its indexer reports its own syncs
            complete(factory, "aifactory.follow", report)  # idle cycles leave no lineage
        self.cycles += 1
        return report


def follow(factory: Factory, sources: list[Source], *, interval_s: float = DEFAULT_INTERVAL_S,
           stop: threading.Event, on_cycle: Callable[[RunReport], None],
           on_error: Callable[[BaseException], None] | None = None, conn: KafkaConnection | None = None,
           progress: bool = False) -> int:
    """Cycle until `stop` is set: when a source folder changes (after a short
    debounce), and every `interval_s` in any case; `on_cycle` gets every report.
    Returns the number of cycles run. The watcher, the worker and the embedded
    broker are stopped on the way out, whatever ends the loop."""
    watcher = Watcher([s.root for s in sources], ignore=[factory.settings.home])
    remote = attached(factory) if conn is None else None
    with connection(factory, conn or remote) as kafka, \
            Follower(factory, sources, kafka, progress=progress, remote=remote is not None) as follower, watcher:
        failures = 0
        while not stop.is_set():
            try:
                report = follower.cycle(should_stop=stop.is_set)
            except StopRequested:
                break
            except RECOVERABLE as exc:
                failures += 1
                if failures >= MAX_FAILED_CYCLES:
                    raise
                log.error("cycle failed (%s); restarting the worker and landers", exc)
                if on_error is not None:
                    on_error(exc)
                follower.restart()
                watcher.wait(interval_s, stop)
                continue
            failures = 0
            on_cycle(report)
            watcher.wait(interval_s, stop)
        return follower.cycles


def follow_until_signalled(factory: Factory, sources: list[Source], *, interval_s: float = DEFAULT_INTERVAL_S,
                           on_cycle: Callable[[RunReport], None],
                           on_error: Callable[[BaseException], None] | None = None, progress: bool = False) -> int:
    """`follow` until SIGINT or SIGTERM. The first signal stops at the next safe
    point (a cycle's wait for the stream is one); a second one stops at once. Either
    way the worker and the broker are stopped through their process groups."""
    with stop_on_signal() as stop:
        return follow(factory, sources, interval_s=interval_s, stop=stop, on_cycle=on_cycle, on_error=on_error,
                      progress=progress)
