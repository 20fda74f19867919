"""A command as a client of the running factory (services.py, `aifactory up`).

When the landers and transform workers run on this data directory, a run starts no
broker, worker or lander of its own: it scans, publishes into the factory's broker,
and reads each event's outcome back from the lake files that appear (`LakeWatch`),
then waits until the indexer has synced past that moment. Without an indexer it
syncs the index itself, as a one-shot run does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from ingest.errors import LandingTimeout
from ingest.kafka import KafkaConnection
from ingest.lake import Lake, TableSpec
from ingest.lake_reads import rows_in
from ingest.sources import publish
from ingest.tables import DEAD_LETTERS, RAW
from pipeline import inflight
from pipeline.attach import ServiceError, synced_from
from pipeline.factory import Factory
from pipeline.log_identity import held_positions, remember_topics
from pipeline.presence import running
from pipeline.scan import Batch, split_pending
from pipeline.stream import Expected, Outcomes, StopRequested
from transforms.tables import CHUNKS

log = logging.getLogger(__name__)

GONE_S = 15.0  # the factory's landers or workers absent this long: it was stopped
# How often a client looks for its outcomes in the lake and at the indexer's mark: both
# are a few stat calls, and each look saved is time added to every edit's freshness.
WAIT_STEP_S = 0.02
# With the lake on object storage a look is three LIST requests, each billed and tens of
# milliseconds long: look less often.
OBJECT_STORE_STEP_S = 0.25


class LakeWatch:
    """Outcomes, as `Stream` keeps them, read from the lake files that appeared since the last look."""

    def __init__(self, lake: Lake, expects: Expected | None = None) -> None:
        self.lake = lake
        self.outcomes = Outcomes(lake, expects)
        # Raw keys landed since the first look: the raw rows a run waits for are its new
        # events', which land after it publishes.
        self.raw: set[str] = set()
        self.failed: set[str] = set()  # events dead-lettered since (their outcome, instead of a raw row)
        self.landed = {"raw": 0, "chunks": 0, "dead_letters": 0}
        self._files = {spec.name: set(lake.files(spec)) for spec in (RAW, CHUNKS, DEAD_LETTERS)}

    def _new(self, spec: TableSpec, columns: list[str]) -> list[dict]:
        files = set(self.lake.files(spec))
        new = sorted(files - self._files[spec.name])
        self._files[spec.name] = files
        rows = rows_in(self.lake, new, columns) if new else []
        self.landed[spec.name] += len(rows)
        return rows

    def refresh(self) -> None:
        self.raw.update(r["event_id"] for r in self._new(RAW, ["event_id"]))
        chunks = self._new(CHUNKS, ["event_id", "chunk_count", "op"])
        letters = self._new(DEAD_LETTERS, ["dead_letter_id", "event_id"])
        self.failed.update(r["event_id"] for r in letters if r["event_id"])
        self.outcomes.update(chunks, letters)


class RemoteStream:
    """What `Stream` does for a run, done by the running factory; the same interface."""

    def __init__(self, factory: Factory, conn: KafkaConnection, *, land_raw: bool, transform: bool = True,
                 run_id: str = "", expects: Expected | None = None) -> None:
        self.factory, self.conn, self.land_raw, self.transform = factory, conn, land_raw, transform
        self.run_id = run_id
        self.watch = LakeWatch(factory.lake, expects)
        self.outcomes = self.watch.outcomes
        self.worker = None
        self._seen_alive = time.monotonic()

    def start(self) -> RemoteStream:
        return self

    def stop(self) -> None:
        return None

    def __enter__(self) -> RemoteStream:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def drive(self, batch: Batch, *, should_stop: Callable[[], bool] | None = None,
              on_progress: Callable[[int, int], None] | None = None) -> int:
        republish, on_topic = split_pending(batch.pending, self.conn.epoch, held_positions(self.factory, self.conn))
        remember_topics(self.factory, self.conn, [self.factory.settings.kafka.raw_topic])
        events, retry = batch.events, republish + batch.retry
        self.collect()
        self.outcomes.done -= {e.event_id for e in retry}
        wanted = {e.event_id for e in events} | {e.event_id for e in retry} | on_topic if self.transform else set()
        letters = {d.dead_letter_id for d in batch.letters}
        raw_wanted = {e.event_id for e in events} if self.land_raw else set()
        seal = self.factory.sealer.seal_record  # text leaves this process sealed (when encryption is on)
        # Held until every event has its chunks or dead letter (pipeline/inflight.py).
        with inflight.held(self.factory.settings.home, bool(events or retry or on_topic)) as marker:
            publish(self.conn, [seal(e) for e in events + retry], batch.letters, vouch=self.factory.edge.vouch)
            self._wait(wanted, letters, raw_wanted, should_stop, on_progress)
            if marker is not None and self.transform:
                marker.clear()
        return len(republish)

    def _wait(self, wanted: set[str], letters: set[str], raw_wanted: set[str],
              should_stop: Callable[[], bool] | None, on_progress: Callable[[int, int], None] | None) -> None:
        deadline = time.monotonic() + self.factory.settings.stage_timeout_s
        step = WAIT_STEP_S if self.factory.lake.store.local else OBJECT_STORE_STEP_S
        while True:
            self.collect()
            missing = (wanted - self.outcomes.done, letters - self.outcomes.letters,
                       raw_wanted - self.watch.raw - self.watch.failed)
            if on_progress is not None:
                on_progress(len(wanted) - len(missing[0]), len(wanted))
            if not any(missing):
                return
            self.check()
            if should_stop is not None and should_stop():
                raise StopRequested("asked to stop while waiting for the factory")
            if time.monotonic() > deadline:
                raise LandingTimeout(
                    f"after {self.factory.settings.stage_timeout_s:.0f} s, {len(missing[0])} event(s) still have "
                    f"no chunks or dead letter and {len(missing[2])} raw event(s) are not landed by the running "
                    f"factory; see its logs under {self.factory.settings.log_dir / 'services'}")
            time.sleep(step)

    def collect(self) -> None:
        self.watch.refresh()

    def check(self) -> None:
        """Raise ServiceError once the factory's landers or workers are gone for a while."""
        home = self.factory.settings.home
        if running(home, "land") and (running(home, "transform") or not self.transform):
            self._seen_alive = time.monotonic()
        elif time.monotonic() - self._seen_alive > GONE_S:
            raise ServiceError(f"the factory's landers or transform workers stopped running on {home}; "
                               "start it again (`aifactory up`) and run again: what was published is kept")

    def landed(self) -> dict[str, int]:
        return dict(self.watch.landed)


def wait_indexed(factory: Factory, since: float, *, should_stop: Callable[[], bool] | None = None) -> bool:
    """Wait until the running indexer synced past `since`; False when no indexer runs."""
    home: Path = factory.settings.home
    deadline = time.monotonic() + factory.settings.stage_timeout_s
    while synced_from(home) < since:
        if not running(home, "index"):
            return False
        if should_stop is not None and should_stop():
            raise StopRequested("asked to stop while waiting for the indexer")
        if time.monotonic() > deadline:
            raise LandingTimeout(f"the indexer did not sync within {factory.settings.stage_timeout_s:.0f} s; "
                                 f"see {home / 'logs' / 'services' / 'index.log'}")
        time.sleep(WAIT_STEP_S)
    return True
