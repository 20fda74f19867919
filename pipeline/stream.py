"""Stages 2 and 3, land and transform: the running middle of the pipeline.

    Batch --publish--> raw topic --landing--> raw lake
                           |  faust worker (transforms/app.py: redact, normalise, chunk)
                           v
                  chunks / dead-letter topics --landing--> chunks, dead_letters lake

A `Stream` holds the faust worker and the landers (ingest/landing.py) open; `drive`
publishes a batch and waits until every event has its outcome in the lake (every
chunk, a tombstone or a dead letter). A stream opened with `transform=False` only
lands: the raw lake and the dead letters (`aifactory ingest`, Dagster's raw_lake).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, NamedTuple

from governance.contracts import ChunkRecord, DeadLetter, DocumentEvent, LogPosition
from governance.privacy import apply_privacy
from ingest import dead_letter_table
from ingest.errors import LandingTimeout
from ingest.kafka import KafkaConnection
from ingest.lake import Lake
from ingest.landing import Feed, Lander
from ingest.sources import publish
from ingest.tables import DEAD_LETTERS, RAW, dead_letter_row, raw_row
from pipeline import inflight
from pipeline.factory import Factory
from pipeline.log_identity import held_positions, remember_topics
from pipeline.metering import meter_chunking, meter_ingest
from pipeline.quota_edge import ingest_token_meter
from pipeline.scan import Batch, split_pending
from transforms import chunk_table
from transforms.tables import CHUNKS, chunk_row

log = logging.getLogger(__name__)

WAIT_STEP_S = 0.05  # how often a stream checks what has landed


class Expected(NamedTuple):
    """What a run may find already in the lake: the events it sends again (pending or
    retried), and the dead letters it sends."""

    events: set[str]
    letters: set[str]

    @classmethod
    def of(cls, batch: Batch) -> Expected:
        return cls({e.event_id for e in batch.pending + batch.retry}, {d.dead_letter_id for d in batch.letters})


class Outcomes:
    """Which events have their full outcome in the lake: every chunk, a tombstone,
    or a dead letter. Seeded from the lake, then fed by the landers.

    A run seeds only what it `expects` (Expected): the events it sends again and the
    dead letters it sends. Its new events have new ids, with nothing in the lake yet, so
    a run that resumes nothing reads no lake file here (a corpus's whole chunk table
    otherwise). A resident follower, with `expects` None, seeds everything once."""

    def __init__(self, lake: Lake, expects: Expected | None = None) -> None:
        self.chunks: Counter[str] = Counter()
        self.expected: dict[str, int] = {}
        self.done: set[str] = set()
        events, letters = (None, None) if expects is None else expects
        for outcome in chunk_table.outcomes(lake, events):
            self.chunks[outcome.event_id] = outcome.landed
            self.expected[outcome.event_id] = outcome.expected
            if outcome.done:
                self.done.add(outcome.event_id)
        self.done.update(dead_letter_table.failed_event_ids(lake, events))
        self.letters: set[str] = dead_letter_table.letter_ids(lake, letters)

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
                 run_id: Callable[[], str], member: bool = False) -> dict[str, Lander]:
    """The landers of a stream, or of the land service (`member`: consumer-group
    members); each meters what it lands under `run_id()`."""
    s, lake = conn.settings, factory.lake
    prefix = s.topic_prefix

    def bad_raw(msg: Any, at: LogPosition, exc: Exception) -> None:
        letter = DeadLetter.new(stage="landing", error=exc, source_uri=f"kafka:{at.topic}/{at.partition}/{at.offset}",
                                key=f"{at.epoch}/{at.partition}/{at.offset}", raw=at)
        publish(conn, [], [letter])

    landers = {
        "chunks": Lander(conn, lake, topic=s.chunks_topic, spec=CHUNKS, group_id=f"{prefix}-land-chunks",
                         decode=lambda v, at: chunk_row(ChunkRecord.from_json(v), at),
                         on_landed=meter_chunking(factory.ledger, run_id, factory.signals), member=member),
        "dead_letters": Lander(conn, lake, topic=s.dead_letter_topic, spec=DEAD_LETTERS,
                               group_id=f"{prefix}-land-dead-letters",
                               decode=lambda v, at: dead_letter_row(DeadLetter.from_json(v), at), member=member),
    }
    if raw:
        metered = meter_ingest(factory.ledger, run_id, ingest_token_meter(factory))
        landers["raw"] = Lander(conn, lake, topic=s.raw_topic, spec=RAW, group_id=f"{prefix}-land-raw",
                                decode=lambda v, at: raw_row(landing_event(factory, v), at),
                                on_bad=bad_raw, on_landed=metered, member=member)
    return landers


def landing_event(factory: Factory, value: bytes) -> DocumentEvent:
    """A raw-topic message as the raw lake keeps it: redacted, unless this process
    redacted and published exactly these bytes itself."""
    event = DocumentEvent.from_json(value)
    if factory.edge.vouched(value):
        return event
    sealer = factory.sealer
    if sealer.sealed(event):  # sealed by an edge of this home, after its redaction: it must open
        sealer.open_record(event)
        return event
    return sealer.seal_record(apply_privacy(event, factory.privacy, factory.pii_secret))


class StopRequested(Exception):
    """Raised out of a wait when the caller asked to stop (resident mode, on a signal)."""


class Stream:
    """The running middle of the pipeline: the faust worker and the landers, with
    the outcomes they land. A run opens one for its batch; resident mode keeps
    one open across cycles. `drive` publishes a batch and waits until every event
    has its outcome in the lake. What lands is metered under `run_id`, which
    resident mode moves on each cycle. Without `transform`, there is no worker and
    an event's outcome is its raw row (or the dead letter that refused it)."""

    def __init__(self, factory: Factory, conn: KafkaConnection, *, land_raw: bool, transform: bool = True,
                 run_id: str = "", expects: Expected | None = None) -> None:
        self.factory, self.conn, self.land_raw = factory, conn, land_raw
        # The landers read the run id from a list, not from the stream: a closure over the
        # stream would be a cycle that keeps the factory and its index open until a gc.
        self._run_id = [run_id]
        self.outcomes = Outcomes(factory.lake, expects)  # before the landers start: no row counted twice
        held = self._run_id
        self.landers = make_landers(factory, conn, raw=land_raw, run_id=lambda: held[0])
        if not transform:
            del self.landers["chunks"]
        # Opened before the landers start, so the outcomes miss no row.
        self._chunk_rows = self.landers["chunks"].feed() if transform else Feed()
        self._letter_rows = self.landers["dead_letters"].feed()
        self.worker = None
        if transform:
            from transforms.worker import TransformWorker  # faust: not for a client of the running factory

            self.worker = TransformWorker(conn, factory.settings.log_dir / "transform-worker.log",
                                          factory.transform_env())

    @property
    def run_id(self) -> str:
        return self._run_id[0]

    @run_id.setter
    def run_id(self, value: str) -> None:
        self._run_id[0] = value

    def start(self) -> Stream:
        if self.worker is not None:
            self.worker.start()
        try:
            for lander in self.landers.values():
                lander.start()
        except BaseException:
            self.stop()
            raise
        return self

    def drive(self, batch: Batch, *, should_stop: Callable[[], bool] | None = None,
              on_progress: Callable[[int, int], None] | None = None) -> int:
        """Publish a batch and wait until each of its events has its outcome. Returns
        how many pending events were republished from the raw lake (an earlier log's)."""
        republish, on_topic = split_pending(batch.pending, self.conn.epoch, held_positions(self.factory, self.conn))
        remember_topics(self.factory, self.conn, [self.factory.settings.kafka.raw_topic])
        # Retried events go through again even when this log still holds them.
        self.deliver(events=batch.events, letters=batch.letters, republish=republish + batch.retry,
                     wait_for=on_topic, should_stop=should_stop, on_progress=on_progress)
        return len(republish)

    def deliver(self, *, events: list[DocumentEvent], letters: list[DeadLetter], republish: list[DocumentEvent],
                wait_for: set[str] | None = None, should_stop: Callable[[], bool] | None = None,
                on_progress: Callable[[int, int], None] | None = None) -> None:
        """Publish, then wait until every event has its outcome. `wait_for` names
        events already on the topic that need one too; `on_progress(done, wanted)`
        hears how many have it so far."""
        outcomes = self.outcomes
        # A republished event needs an outcome from this run, whatever an earlier attempt left.
        self.collect()
        outcomes.done -= {e.event_id for e in republish}
        wanted_events = {e.event_id for e in events} | {e.event_id for e in republish} | (wait_for or set()) \
            if self.worker is not None else set()
        wanted_letters = {d.dead_letter_id for d in letters}
        raw_wanted = {e.event_id for e in events} if self.land_raw else set()
        # Scanned events were redacted at the edge; republished ones come from the raw lake.
        seal = self.factory.sealer.seal_record  # text leaves this process sealed (when encryption is on)
        # Held until every event has its chunks or dead letter; raw only, or a crash, leaves it behind.
        with inflight.held(self.factory.settings.home, bool(events or republish or wait_for)) as marker:
            publish(self.conn, [seal(e) for e in events + republish], letters, vouch=self.factory.edge.vouch)
            self._wait(wanted_events, wanted_letters, raw_wanted, should_stop, on_progress)
            if marker is not None and self.worker is not None:
                marker.clear()

    def _wait(self, wanted_events: set[str], wanted_letters: set[str], raw_wanted: set[str],
              should_stop: Callable[[], bool] | None, on_progress: Callable[[int, int], None] | None) -> None:
        settings, outcomes, landers = self.factory.settings, self.outcomes, self.landers
        deadline = time.monotonic() + settings.stage_timeout_s
        while True:
            self.check()
            self.collect()
            # A raw event the residency policy refused has its outcome as a dead letter.
            raw_missing = landers["raw"].unlanded(raw_wanted) if self.land_raw else set()
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
        if self.worker is not None:
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
            if self.worker is not None:
                self.worker.stop()

    def __enter__(self) -> Stream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
