"""The pipeline: drive every stage until all that was published is searchable.

    sources --scan/publish--> raw topic --landing--> raw lake
                                  |  faust worker (chunker)
                                  v
                         chunks / dead-letter topics --landing--> chunks, dead_letters lake
                                                                     |  sync_index
                                                                     v
                                                               vector index

A run knows which events it waits for: those it published, plus every raw-lake
event whose outcome (chunks, a tombstone or a dead letter) never landed, e.g.
because the memory-only broker stopped first. Those from an earlier log epoch
are republished from the raw lake, keeping their first log position as origin.
A run embeds chunks as they land (vectorstore/ahead.py), while later documents are
still being chunked; the index sync takes those vectors instead of embedding again.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from governance.contracts import ChunkRecord, DeadLetter, DocumentEvent, LogPosition
from governance.privacy import apply_privacy
from ingest.errors import LandingTimeout
from ingest.kafka import KafkaConnection, connect
from ingest.lake import Lake
from ingest.landing import Lander
from ingest.sources import IngestReport, Source, publish, scan
from ingest.tables import DEAD_LETTERS, RAW, dead_letter_row, event_from_row, raw_row
from pipeline.factory import Factory
from pipeline.metering import meter_chunking, meter_ingest
from pipeline.progress import Progress, as_progress
from pipeline.runlineage import job_run
from transforms.tables import CHUNKS, chunk_row
from transforms.worker import TransformWorker
from vectorstore.ahead import EmbedAhead
from vectorstore.sync import SyncReport

log = logging.getLogger(__name__)

WAIT_STEP_S = 0.05  # how often a run checks what has landed

PENDING_SQL = """
WITH latest AS (
    SELECT * FROM raw
    QUALIFY row_number() OVER (PARTITION BY document_id ORDER BY version DESC) = 1
)
SELECT * FROM latest
WHERE event_id NOT IN (SELECT event_id FROM chunks)
  AND event_id NOT IN (SELECT event_id FROM dead_letters WHERE event_id <> '')
ORDER BY document_id, version
"""

OUTCOMES_SQL = """
SELECT event_id, count(*) AS landed, max(chunk_count) AS expected, bool_or(op = 'delete') AS tombstone
FROM chunks GROUP BY event_id
"""


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
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
        }


class Outcomes:
    """Which events have their full outcome in the lake: every chunk, a tombstone,
    or a dead letter. Seeded from the lake, then fed by the landers."""

    def __init__(self, lake: Lake) -> None:
        con = lake.connect(CHUNKS, DEAD_LETTERS)
        self.chunks: Counter[str] = Counter()
        self.expected: dict[str, int] = {}
        self.done: set[str] = set()
        for event_id, landed, expected, tombstone in con.execute(OUTCOMES_SQL).fetchall():
            self.chunks[event_id] = landed
            self.expected[event_id] = expected
            if tombstone or landed >= expected:
                self.done.add(event_id)
        self.done.update(r[0] for r in con.execute(
            "SELECT DISTINCT event_id FROM dead_letters WHERE event_id <> ''").fetchall())
        self.letters: set[str] = {r[0] for r in con.execute("SELECT dead_letter_id FROM dead_letters").fetchall()}
        con.close()

    def update(self, chunk_rows: list[dict[str, Any]], letter_rows: list[dict[str, Any]]) -> None:
        """Count rows landed since the last update (each row once)."""
        for row in chunk_rows:
            eid = row["event_id"]
            self.chunks[eid] += 1
            self.expected[eid] = row["chunk_count"]
            if row["op"] == "delete" or self.chunks[eid] >= row["chunk_count"]:
                self.done.add(eid)
        for row in letter_rows:
            self.letters.add(row["dead_letter_id"])
            if row["event_id"]:
                self.done.add(row["event_id"])


def make_landers(factory: Factory, conn: KafkaConnection, *, raw: bool,
             run_id: Callable[[], str]) -> dict[str, Lander]:
    """The landers of a stream; each meters what it lands under `run_id()`."""
    s, lake = conn.settings, factory.lake
    prefix = s.topic_prefix

    def bad_raw(msg: Any, at: LogPosition, exc: Exception) -> None:
        letter = DeadLetter.new(stage="landing", error=exc, source_uri=f"kafka:{at.topic}/{at.partition}/{at.offset}",
                                key=f"{at.epoch}/{at.partition}/{at.offset}", raw=at)
        publish(conn, [], [letter])

    landers = {
        "chunks": Lander(conn, lake, topic=s.chunks_topic, spec=CHUNKS, group_id=f"{prefix}-land-chunks",
                         decode=lambda v, at: chunk_row(ChunkRecord.from_json(v), at),
                         on_landed=meter_chunking(factory.ledger, run_id)),
        "dead_letters": Lander(conn, lake, topic=s.dead_letter_topic, spec=DEAD_LETTERS,
                               group_id=f"{prefix}-land-dead-letters",
                               decode=lambda v, at: dead_letter_row(DeadLetter.from_json(v), at)),
    }
    if raw:
        landers["raw"] = Lander(conn, lake, topic=s.raw_topic, spec=RAW, group_id=f"{prefix}-land-raw",
                                decode=lambda v, at: raw_row(landing_event(factory, v), at),
                                on_bad=bad_raw, on_landed=meter_ingest(factory.ledger, run_id))
    return landers


def landing_event(factory: Factory, value: bytes) -> DocumentEvent:
    """A raw-topic message as the raw lake keeps it: redacted, unless this process
    redacted and published exactly these bytes itself."""
    event = DocumentEvent.from_json(value)
    return event if factory.edge.vouched(value) else apply_privacy(event, factory.privacy, factory.pii_secret)


def pending_events(lake: Lake) -> list[DocumentEvent]:
    """Latest raw-lake events of each document whose outcome never landed."""
    con = lake.connect(RAW, CHUNKS, DEAD_LETTERS)
    cur = con.execute(PENDING_SQL)
    cols = [d[0] for d in cur.description]
    events = [event_from_row(dict(zip(cols, r, strict=True))) for r in cur.fetchall()]
    con.close()
    return events


class StopRequested(Exception):
    """Raised out of a wait when the caller asked to stop (resident mode, on a signal)."""


class Stream:
    """The running middle of the pipeline: the faust worker and the landers, with
    the outcomes they land. A run opens one for its events; resident mode keeps
    one open across cycles. `deliver` publishes and waits until every event has
    its outcome in the lake. What lands is metered under `run_id`, which resident
    mode moves on each cycle."""

    def __init__(self, factory: Factory, conn: KafkaConnection, *, land_raw: bool, run_id: str = "") -> None:
        self.factory, self.conn, self.land_raw, self.run_id = factory, conn, land_raw, run_id
        self.outcomes = Outcomes(factory.lake)
        self.landers = make_landers(factory, conn, raw=land_raw, run_id=lambda: self.run_id)
        # Opened before the landers start, so the outcomes miss no row.
        self._chunk_rows, self._letter_rows = self.landers["chunks"].feed(), self.landers["dead_letters"].feed()
        self.worker = TransformWorker(conn, factory.settings.log_dir / "transform-worker.log",
                                      factory.transform_env())

    def start(self) -> Stream:
        self.worker.start()
        try:
            for lander in self.landers.values():
                lander.start()
        except BaseException:
            self.stop()
            raise
        return self

    def deliver(self, *, events: list[DocumentEvent], letters: list[DeadLetter], republish: list[DocumentEvent],
                wait_for: set[str] | None = None, should_stop: Callable[[], bool] | None = None,
                on_progress: Callable[[int, int], None] | None = None) -> None:
        """Publish, then wait until every event has its outcome. `wait_for` names
        events already on the topic that need one too; `on_progress(done, wanted)`
        hears how many have it so far."""
        settings, outcomes, landers = self.factory.settings, self.outcomes, self.landers
        # A republished event needs an outcome from this run, whatever an earlier attempt left.
        self.collect()
        outcomes.done -= {e.event_id for e in republish}
        wanted_events = {e.event_id for e in events} | {e.event_id for e in republish} | (wait_for or set())
        wanted_letters = {d.dead_letter_id for d in letters}
        raw_wanted = {e.event_id for e in events} if self.land_raw else set()
        # Scanned events were redacted at the edge; republished ones come from the raw lake.
        publish(self.conn, events + republish, letters, vouch=self.factory.edge.vouch)
        deadline = time.monotonic() + settings.stage_timeout_s
        while True:
            self.check()
            self.collect()
            # A raw event the residency policy refused has its outcome as a dead letter.
            raw_missing = raw_wanted - landers["raw"].seen - landers["raw"].refused if self.land_raw else set()
            missing = (wanted_events - outcomes.done, wanted_letters - outcomes.letters, raw_missing)
            if on_progress is not None:
                on_progress(len(wanted_events) - len(missing[0]), len(wanted_events))
            if not any(missing):
                return
            if should_stop is not None and should_stop():
                raise StopRequested("asked to stop while waiting for the stream")
            if time.monotonic() > deadline:
                raise LandingTimeout(
                    f"after {settings.stage_timeout_s:.0f} s, {len(missing[0])} event(s) still have no chunks "
                    f"or dead letter, {len(missing[1])} dead letter(s) and {len(missing[2])} raw event(s) are "
                    f"not landed; see {settings.log_dir / 'transform-worker.log'}, raise "
                    "AIFACTORY_STAGE_TIMEOUT_S for a large corpus, or run again to resume"
                )
            time.sleep(WAIT_STEP_S)

    def collect(self) -> None:
        """Bring the outcomes up to date with the rows landed since the last call."""
        self.outcomes.update(self._chunk_rows.take(), self._letter_rows.take())

    def check(self) -> None:
        """Raise what the embedded broker, a lander thread or the worker process died
        of; the broker first, as the others fail when it does."""
        self.conn.check()
        self.worker.check()
        for lander in self.landers.values():
            lander.check()

    def landed(self) -> dict[str, int]:
        """Rows landed so far by this stream, per table."""
        return {name: lander.rows_landed for name, lander in self.landers.items()}

    def stop(self) -> None:
        """Stop the landers (each lands what it has read first, all at once), then the worker."""
        try:
            for lander in self.landers.values():
                lander.request_stop()
            for lander in self.landers.values():
                lander.stop()
        finally:
            self.worker.stop()

    def __enter__(self) -> Stream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def count_landed(report: RunReport, landed: dict[str, int]) -> None:
    report.raw_landed += landed.get("raw", 0)
    report.chunks_landed += landed.get("chunks", 0)
    report.dead_letters_landed += landed.get("dead_letters", 0)


def drive(factory: Factory, conn: KafkaConnection, *, events: list[DocumentEvent],
          letters: list[DeadLetter], republish: list[DocumentEvent], land_raw: bool,
          report: RunReport, wait_for: set[str] | None = None) -> None:
    """Publish, then run the faust worker and the landers until every event has its
    outcome. `wait_for` names events already on the topic that need one too."""
    with Stream(factory, conn, land_raw=land_raw, run_id=report.run_id) as stream:
        stream.deliver(events=events, letters=letters, republish=republish, wait_for=wait_for)
    count_landed(report, stream.landed())


def scan_source(factory: Factory, source: Source, run_id: str = "",
                claimed: dict[str, str] | None = None) -> IngestReport:
    """Scan one source, with the scan cache under the data directory."""
    return scan(source, factory.policy, factory.lake, limits=factory.settings.limits, privacy=factory.privacy,
                secret=factory.pii_secret, cache_dir=scan_cache_dir(factory), run_id=run_id, claimed=claimed)


def scan_sources(factory: Factory, sources: list[Source], run_id: str) -> list[IngestReport]:
    """Scan the sources of one run, which may not give one document id two files."""
    claimed: dict[str, str] = {}
    return [scan_source(factory, s, run_id, claimed) for s in sources]


def scan_cache_dir(factory: Factory) -> Path:
    return factory.settings.home / "state" / "scan"


def split_pending(pending: list[DocumentEvent], epoch: str) -> tuple[list[DocumentEvent], set[str]]:
    """Pending events of this log epoch are still on the topic; the others are republished."""
    republish = [e for e in pending if e.origin is None or e.origin.epoch != epoch]
    on_topic = {e.event_id for e in pending if e.origin is not None and e.origin.epoch == epoch}
    return republish, on_topic


def run(factory: Factory, sources: list[Source], *, progress: bool | Progress = False,
        retry: list[DocumentEvent] | None = None, requests: list[DocumentEvent] | None = None) -> RunReport:
    """Ingest the sources and drive every stage until all is searchable. `retry`
    names raw-lake events to send through the chain again (dead-letter replay);
    `requests` are new events made by a person, such as deletes (see deletes.py).
    The run is reported as OpenLineage events (see runlineage.py)."""
    report = RunReport()
    with job_run(factory, "aifactory.run", report):
        _run(factory, sources, report, progress=as_progress(progress), retry=retry, requests=requests)
    return report


def _run(factory: Factory, sources: list[Source], report: RunReport, *, progress: Progress,
         retry: list[DocumentEvent] | None, requests: list[DocumentEvent] | None) -> None:
    started = time.perf_counter()
    progress.stage("scan", f"reading {len(sources)} source(s)")
    report.ingest = scan_sources(factory, sources, report.run_id)
    events = [e for r in report.ingest for e in r.published] + \
        [e.model_copy(update={"run_id": e.run_id or report.run_id}) for e in requests or []]
    report.requested = len(requests or [])
    letters = [d for r in report.ingest for d in r.dead_letters]
    if letters:  # the scan names a bad file's letter again each run; once landed it needs no stream
        landed = landed_letters(factory.lake)
        letters = [d for d in letters if d.dead_letter_id not in landed]
    report.seconds["scan"] = time.perf_counter() - started
    published_ids = {e.event_id for e in events}
    pending = [e for e in pending_events(factory.lake) if e.event_id not in published_ids]
    retry = [e for e in retry or [] if e.event_id not in published_ids | {p.event_id for p in pending}]
    progress.stage("scan", scan_line(report, len(letters), len(pending) + len(retry)))
    ahead: EmbedAhead | None = None
    stream: Stream | None = None
    closing: Closing | None = None
    if events or letters or pending or retry:
        with contextlib.ExitStack() as stack:
            kafka = factory.settings.kafka
            progress.stage("broker", f"connecting to {kafka.bootstrap_servers}" if kafka.bootstrap_servers
                           else "starting the embedded broker")
            conn = stack.enter_context(connect(kafka, broker_log=str(factory.settings.log_dir / "broker.log")))
            t = time.perf_counter()
            republish, on_topic = split_pending(pending, conn.epoch)
            report.recovered = len(republish)
            progress.stage("stream", "starting the transform worker and the landers")
            stream = stack.enter_context(Stream(factory, conn, land_raw=True, run_id=report.run_id))
            wanted = len(events) + len(republish) + len(retry) + len(on_topic)
            progress.stage("stream", f"chunking {wanted} event(s) and embedding their chunks as they land")
            bar = stack.enter_context(contextlib.closing(progress.bar("stream", wanted, "event")))
            # Chunks are embedded as they land, while later documents are still being chunked.
            with EmbedAhead(lambda: factory.embedder, stream.landers["chunks"].feed().take) as ahead:
                # Retried events go through again even when this log still holds them.
                stream.deliver(events=events, letters=letters, republish=republish + retry, wait_for=on_topic,
                               on_progress=lambda done, _: done > bar.n and bar.update(done - bar.n))
            bar.close()
            report.seconds["stream"] = time.perf_counter() - t
            progress.stage("stream", f"done in {report.seconds['stream']:.1f} s: {stream.landed().get('chunks', 0)} "
                           f"chunk rows, {stream.landed().get('dead_letters', 0)} dead letter(s) landed")
            # Every outcome is durable in the lake: the stream and the broker stop while the index
            # syncs, the worker's shutdown (the longest) beside the landers'.
            stream.worker.request_stop()
            closing = Closing(stack.pop_all())
    t = time.perf_counter()
    progress.stage("index", "making the index equal to the chunks lake")
    try:
        report.index = factory.sync_index(run_id=report.run_id, progress=progress.bars, ahead=ahead)
    finally:
        if closing is not None:
            closing.join()
    if stream is not None:
        count_landed(report, stream.landed())
    report.seconds["index"] = time.perf_counter() - t
    report.seconds["total"] = time.perf_counter() - started
    i = report.index
    progress.stage("index", f"done in {report.seconds['index']:.1f} s: {i.upserted} point(s) upserted, "
                   f"{i.deleted} deleted, {i.unchanged} unchanged")


def scan_line(report: RunReport, letters: int, pending: int) -> str:
    s = report.summary()
    return (f"{s['files']} file(s): {s['published']} event(s) to publish ({s['deleted']} deletes), "
            f"{s['unchanged']} unchanged, {s['held']} held back, {letters} new dead letter(s)"
            + (f", {pending} earlier event(s) to finish" if pending else ""))


def landed_letters(lake: Lake) -> set[str]:
    """Ids of the dead letters in the lake."""
    con = lake.connect(DEAD_LETTERS)
    try:
        return {r[0] for r in con.execute("SELECT dead_letter_id FROM dead_letters").fetchall()}
    finally:
        con.close()


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


def ingest_only(factory: Factory, sources: list[Source], *, conn: KafkaConnection | None = None) -> RunReport:
    """Publish document events and land them in the raw lake; chunking comes next."""
    report = RunReport()
    report.ingest = scan_sources(factory, sources, report.run_id)
    events = [e for r in report.ingest for e in r.published]
    letters = [d for r in report.ingest for d in r.dead_letters]
    if not events and not letters:
        return report
    with connection(factory, conn) as kafka:
        landers = {k: v for k, v in make_landers(factory, kafka, raw=True, run_id=lambda: report.run_id).items()
                   if k != "chunks"}
        for lander in landers.values():
            lander.start()
        try:
            publish(kafka, events, letters, vouch=factory.edge.vouch)
            want = {e.event_id for e in events}
            want_letters = {d.dead_letter_id for d in letters}
            deadline = time.monotonic() + factory.settings.stage_timeout_s
            while want - landers["raw"].seen or want_letters - landers["dead_letters"].seen:
                kafka.check()
                for lander in landers.values():
                    lander.check()
                if time.monotonic() > deadline:
                    raise LandingTimeout(f"{len(want - landers['raw'].seen)} event(s) were not landed in "
                                         f"{factory.settings.stage_timeout_s:.0f} s; run again to resume")
                time.sleep(WAIT_STEP_S)
        finally:
            for lander in landers.values():
                lander.stop()
    report.raw_landed = landers["raw"].rows_landed
    report.dead_letters_landed = landers["dead_letters"].rows_landed
    return report


def transform_pending(factory: Factory, *, conn: KafkaConnection | None = None) -> RunReport:
    """Chunk every raw-lake event whose outcome has not landed yet."""
    report = RunReport()
    pending = pending_events(factory.lake)
    if not pending:
        return report
    with connection(factory, conn) as kafka:
        republish, on_topic = split_pending(pending, kafka.epoch)
        report.recovered = len(republish)
        drive(factory, kafka, events=[], letters=[], republish=republish, land_raw=False, report=report,
              wait_for=on_topic)
    return report


def replay(factory: Factory, *, progress: bool = False) -> RunReport:
    """Rebuild the chunks lake and the index from the raw lake, the durable log."""
    report = RunReport()
    with job_run(factory, "aifactory.replay", report):
        _replay(factory, report, progress=progress)
    return report


def _replay(factory: Factory, report: RunReport, *, progress: bool) -> None:
    started = time.perf_counter()
    con = factory.lake.connect(RAW)
    cur = con.execute("SELECT * FROM raw ORDER BY document_id, version")
    cols = [d[0] for d in cur.description]
    events = [event_from_row(dict(zip(cols, r, strict=True))) for r in cur.fetchall()]
    con.close()
    factory.lake.drop(CHUNKS)
    index = factory.index
    for region in index.regions():
        index.delete(region, index.ids(region))
    with connect(factory.settings.kafka, broker_log=str(factory.settings.log_dir / "broker.log")) as conn:
        drive(factory, conn, events=[], letters=[], republish=events, land_raw=False, report=report)
    report.recovered = len(events)
    report.seconds["stream"] = time.perf_counter() - started
    t = time.perf_counter()
    report.index = factory.sync_index(run_id=report.run_id, progress=progress)
    report.seconds["index"] = time.perf_counter() - t
    report.seconds["total"] = time.perf_counter() - started
