"""The runner: one pass of the stages, from the sources to the index. Every flow of
both front doors is this pass with other options: `run` (and `dlq replay`, deletes,
erasure), `ingest_only` (land only), `transform_pending` (no scan), `replay` (the raw
lake again); resident mode (follow.py) keeps the same stages open across passes.

    sources --scan.plan--> Batch --Stream.drive--> raw, chunks, dead_letters lake --Project--> index
            (scan.py)                (stream.py: publish, land, transform)           (project.py)

A pass waits for the events it published, plus every raw-lake event whose outcome
never landed. It embeds chunks as they land (vectorstore/ahead.py), while later
documents are still being chunked; the projection takes those vectors instead of
embedding again.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from governance.contracts import DocumentEvent
from governance.openlineage import ParentRef
from ingest.kafka import KafkaConnection, connect
from ingest.sources import IngestReport, Source
from pipeline.attach import attached
from pipeline.client import RemoteStream, wait_indexed
from pipeline.factory import Factory
from pipeline.progress import Progress, as_progress
from pipeline.project import Project
from pipeline.runlineage import job_run
from pipeline.scan import Batch, pending_events, plan, raw_events
from pipeline.stream import Expected, Stream
from transforms.tables import CHUNKS
from vectorstore.ahead import EmbedAhead
from vectorstore.sync import SyncReport

log = logging.getLogger(__name__)

@dataclass
class RunReport:
    run_id: str = field(default_factory=lambda: f"run-{uuid.uuid4().hex[:16]}")
    ingest: list[IngestReport] = field(default_factory=list)
    recovered: int = 0
    requested: int = 0
    raw_landed: int = 0
    chunks_landed: int = 0
    dead_letters_landed: int = 0
    index: SyncReport | None = None
    indexed_by: str = ""  # with the factory up, its indexer (the index counts are its own)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def published(self) -> int:
        return sum(len(r.published) for r in self.ingest)

    def summary(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "files": sum(r.files for r in self.ingest), "published": self.published,
            "unchanged": sum(r.unchanged for r in self.ingest),
            "deleted": sum(r.deleted for r in self.ingest), "held": sum(r.held for r in self.ingest),
            "requested": self.requested, "recovered": self.recovered,
            "raw_landed": self.raw_landed, "chunks_landed": self.chunks_landed,
            "dead_letters_landed": self.dead_letters_landed,
            "points_upserted": self.index.upserted if self.index else 0,
            "points_deleted": self.index.deleted if self.index else 0,
            **({"indexed_by": self.indexed_by} if self.indexed_by else {}),
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
        }


def count_landed(report: RunReport, landed: dict[str, int]) -> None:
    report.raw_landed += landed.get("raw", 0)
    report.chunks_landed += landed.get("chunks", 0)
    report.dead_letters_landed += landed.get("dead_letters", 0)


def run(factory: Factory, sources: list[Source], *, progress: bool | Progress = False,
        retry: list[DocumentEvent] | None = None, requests: list[DocumentEvent] | None = None) -> RunReport:
    """Ingest the sources and drive every stage until all is searchable. `retry`
    names raw-lake events to send through the chain again (dead-letter replay);
    `requests` are new events made by a person, such as deletes (see deletes.py).
    The run is reported as OpenLineage events (see runlineage.py)."""
    report = RunReport()
    shown = as_progress(progress)
    with factory.writing(say=lambda text: shown.stage("wait", text)), job_run(factory, "aifactory.run", report):
        started = time.perf_counter()
        shown.stage("scan", f"reading {len(sources)} source(s)")
        batch = plan(factory, sources, report.run_id, requests=requests or (), retry=retry or ())
        report.ingest, report.requested = batch.ingest, len(requests or [])
        report.seconds["scan"] = time.perf_counter() - started
        shown.stage("scan", scan_line(report, len(batch.letters), len(batch.pending) + len(batch.retry)))
        drive(factory, report, batch, progress=shown, project=Project(factory))
        report.seconds["total"] = time.perf_counter() - started
    return report


def drive(factory: Factory, report: RunReport, batch: Batch, *, progress: Progress | None = None,
          conn: KafkaConnection | None = None, land_raw: bool = True, transform: bool = True,
          project: Project | None = None) -> None:
    """One pass of the stages over a batch: the stream (publish, land and, with
    `transform`, chunk, embedding chunks ahead as they land), then the projection
    onto the index, if any. The stream stops beside the projection: every outcome is
    durable in the lake by then."""
    progress = progress or as_progress(False)
    if project is not None:
        # The projection meters with the carbon series and embeds in the compute region: a bad
        # setting of either fails here, before anything is published.
        _ = factory.carbon, factory.compute
    ahead: EmbedAhead | None = None
    stream: Stream | RemoteStream | None = None
    closing: Closing | None = None
    remote = attached(factory) if conn is None else None  # the factory is up: be its client (client.py)
    if batch:
        with contextlib.ExitStack() as stack:
            kafka = factory.settings.kafka
            if remote is not None:
                progress.stage("broker", f"the factory is up: publishing to its broker {remote.bootstrap_servers}")
            elif conn is None:
                progress.stage("broker", f"connecting to {kafka.bootstrap_servers}" if kafka.bootstrap_servers
                               else "starting the embedded broker")
            live = stack.enter_context(connection(factory, conn or remote))
            t = time.perf_counter()
            if remote is not None:
                stream = RemoteStream(factory, live, land_raw=land_raw, transform=transform, run_id=report.run_id,
                                      expects=Expected.of(batch))
            else:
                progress.stage("stream", "starting the transform worker and the landers" if transform
                               else "starting the landers")
                stream = stack.enter_context(Stream(factory, live, land_raw=land_raw, transform=transform,
                                                    run_id=report.run_id, expects=Expected.of(batch)))
            progress.stage("stream", f"chunking {batch.wanted} event(s) and embedding their chunks as they land"
                           if transform else f"landing {len(batch.events)} event(s)")
            bar = stack.enter_context(contextlib.closing(progress.bar("stream", batch.wanted if transform else 0,
                                                                      "event")))
            # Chunks are embedded as they land, while later documents are still being chunked;
            # the vectors stay for the projection.
            embedding = embed_ahead(factory, stream) \
                if transform and project is not None and isinstance(stream, Stream) else contextlib.nullcontext(None)
            with embedding as ahead:
                report.recovered = stream.drive(
                    batch, on_progress=lambda done, _: done > bar.n and bar.update(done - bar.n))
            bar.close()
            report.seconds["stream"] = time.perf_counter() - t
            landed = stream.landed()
            progress.stage("stream", f"done in {report.seconds['stream']:.1f} s: {landed.get('chunks', 0)} "
                           f"chunk rows, {landed.get('dead_letters', 0)} dead letter(s) landed")
            if stream.worker is not None:  # its shutdown is the longest: begin it now
                stream.worker.request_stop()
            closing = Closing(stack.pop_all())
    try:
        if project is not None and remote is not None and wait_indexed(factory, time.time()):
            report.indexed_by = "the running indexer"
            progress.stage("index", "the factory's indexer has made the index equal to the chunks lake")
        elif project is not None:
            t = time.perf_counter()
            progress.stage("index", "making the index equal to the chunks lake")
            report.index = project(report.run_id, progress=progress.bars, ahead=ahead)
            report.seconds["index"] = time.perf_counter() - t
            i = report.index
            if i is not None:
                left = sum(i.refused.values())
                progress.stage("index", f"done in {report.seconds['index']:.1f} s: {i.upserted} point(s) "
                               f"upserted, {i.deleted} deleted, {i.unchanged} unchanged" + (
                                   f"; {left} chunk(s) left for a worker in a region their jurisdiction allows "
                                   f"(this one computes in {factory.settings.compute_region})" if left else ""))
    finally:
        if closing is not None:
            closing.join()
    if stream is not None:
        count_landed(report, stream.landed())


def embed_ahead(factory: Factory, stream: Stream) -> EmbedAhead:
    """Embedding of the chunks the lander writes, those this process's compute region may embed."""
    feed = stream.landers["chunks"].feed()
    return EmbedAhead(lambda: factory.embedder,
                      lambda: factory.sealer.open_rows([r for r in feed.take() if factory.may_embed(r)]))


def scan_line(report: RunReport, letters: int, pending: int) -> str:
    s = report.summary()
    return (f"{s['files']} file(s): {s['published']} event(s) to publish ({s['deleted']} deletes), "
            f"{s['unchanged']} unchanged, {s['held']} held back, {letters} new dead letter(s)"
            + (f", {pending} earlier event(s) to finish" if pending else ""))


class Closing:
    """Closes an exit stack on a thread of its own; `join` waits, then raises what it raised.
    Stopping the faust worker takes a second or two of its shutdown, which a run need
    not wait for before its index sync: the worker's work is in the lake by then."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._stack = stack
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._close, name="stream-stop")
        self._thread.start()

    def _close(self) -> None:
        try:
            self._stack.close()
        except BaseException as exc:  # noqa: BLE001 - raised again by join, on the caller's thread
            self._error = exc

    def join(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error


@contextlib.contextmanager
def connection(factory: Factory, conn: KafkaConnection | None) -> Iterator[KafkaConnection]:
    if conn is not None:
        yield conn
        return
    with connect(factory.settings.kafka, broker_log=str(factory.settings.log_dir / "broker.log")) as fresh:
        yield fresh


def ingest_only(factory: Factory, sources: list[Source], *, conn: KafkaConnection | None = None,
                parent: ParentRef | None = None) -> RunReport:
    """Publish document events and land them in the raw lake; chunking comes next."""
    report = RunReport()
    with factory.writing(), job_run(factory, "aifactory.ingest", report, parent=parent):
        batch = plan(factory, sources, report.run_id, recover=False)
        report.ingest = batch.ingest
        drive(factory, report, batch, conn=conn, transform=False)
    return report


def transform_pending(factory: Factory, *, conn: KafkaConnection | None = None,
                      parent: ParentRef | None = None) -> RunReport:
    """Chunk every raw-lake event whose outcome has not landed yet."""
    report = RunReport()
    with factory.writing(), job_run(factory, "aifactory.transform", report, parent=parent):
        drive(factory, report, Batch(pending=pending_events(factory.lake)), conn=conn, land_raw=False)
    return report


def replay(factory: Factory, *, progress: bool = False) -> RunReport:
    """Rebuild the chunks lake and the index from the raw lake, the durable log."""
    report = RunReport()
    shown = as_progress(progress)
    with factory.writing(say=lambda text: shown.stage("wait", text)), job_run(factory, "aifactory.replay", report):
        started = time.perf_counter()
        events = raw_events(factory.lake)
        # Privileged: the chunks lake and every index point are rebuilt from the raw lake.
        factory.audit.append("replay.request", "*", run_id=report.run_id, events=len(events))
        factory.lake.drop(CHUNKS)
        index = factory.index
        for region in index.regions():
            index.delete(region, index.ids(region))
        drive(factory, report, Batch(retry=events), land_raw=False, project=Project(factory), progress=shown)
        report.recovered = len(events)
        report.seconds["total"] = time.perf_counter() - started
        factory.audit.append("replay.done", "*", run_id=report.run_id, events=len(events),
                             chunks=report.chunks_landed, points=report.index.upserted if report.index else 0)
    return report
