"""Stage 1, scan: the sources compared with the raw lake, as a `Batch` for the stream.

    sources --scan (ingest/sources.py: limits, parse, redact, hash)--> Batch
        events    new versions and deletes (and requests a person made, such as deletes)
        letters   files that failed, not yet in the dead-letter lake
        pending   raw-lake events whose outcome (chunks, a tombstone, a dead letter) never
                  landed, e.g. because the memory-only broker stopped first
        retry     raw-lake events to send through the chain again (dead-letter replay, replay)

The stream (stream.py) publishes a batch and waits for every outcome; pending events of
an earlier log epoch are republished from the raw lake, keeping their first log position.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from governance.contracts import DeadLetter, DocumentEvent
from ingest import dead_letter_table, raw_table
from ingest.lake import Lake
from ingest.raw_view import RawView
from ingest.sources import IngestReport, Source, scan
from pipeline import inflight, lake_views
from pipeline.factory import Factory
from pipeline.quota_edge import hold_over_quota

Position = tuple[str, int, int]  # topic, partition, offset


@dataclass
class Batch:
    """What one pass drives through the stream, and what the scan saw on the way."""

    events: list[DocumentEvent] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)
    pending: list[DocumentEvent] = field(default_factory=list)
    retry: list[DocumentEvent] = field(default_factory=list)
    ingest: list[IngestReport] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.events or self.letters or self.pending or self.retry)

    @property
    def wanted(self) -> int:
        """How many events need an outcome."""
        return len(self.events) + len(self.pending) + len(self.retry)


def plan(factory: Factory, sources: list[Source], run_id: str, *, requests: Sequence[DocumentEvent] = (),
         retry: Sequence[DocumentEvent] = (), recover: bool = True, known_letters: set[str] | None = None,
         raw: RawView | None = None) -> Batch:
    """Scan the sources and make the batch of one pass. `recover` also takes the
    raw-lake events without an outcome; `known_letters` are dead-letter ids already
    landed (read from the lake when not given): a file that still fails names the
    same letter every scan, and once landed it needs no stream. `raw` keeps what the
    raw lake holds between the scans of a resident follower (ingest/raw_view.py)."""
    if raw is not None:
        raw.refresh()
    ingest = scan_sources(factory, sources, run_id, raw)
    hold_over_quota(factory, ingest)
    events = [e for r in ingest for e in r.published] + \
        [e.model_copy(update={"run_id": e.run_id or run_id}) for e in requests]
    letters = [d for r in ingest for d in r.dead_letters]
    if letters:
        known = landed_letters(factory.lake) if known_letters is None else known_letters
        letters = [d for d in letters if d.dead_letter_id not in known]
    ids = {e.event_id for e in events}
    pending = [e for e in resumable(factory) if e.event_id not in ids] if recover else []
    ids |= {e.event_id for e in pending}
    return Batch(events=events, letters=letters, pending=pending, retry=[e for e in retry if e.event_id not in ids],
                 ingest=ingest)


def resumable(factory: Factory) -> list[DocumentEvent]:
    """The pending events a run should resume: asked of the lake only when a publisher
    may have left some (pipeline/inflight.py); none while every publisher is alive or
    cleared its marker, and the lake was asked within the hour."""
    home = factory.settings.home
    due, seen = inflight.check_due(home)
    if not due:
        return []
    at = time.time()
    pending = pending_events(factory.lake)
    inflight.checked(home, seen, at)
    return pending


def pending_events(lake: Lake) -> list[DocumentEvent]:
    """Latest raw-lake events of each document whose outcome never landed."""
    return lake_views.pending_events(lake)


def raw_events(lake: Lake) -> list[DocumentEvent]:
    """Every event of the raw lake, the durable log, in order per document."""
    return raw_table.events(lake)


def scan_source(factory: Factory, source: Source, run_id: str = "",
                claimed: dict[str, str] | None = None, raw: RawView | None = None) -> IngestReport:
    """Scan one source, with the scan cache under the data directory."""
    return scan(source, factory.policy, factory.lake, limits=factory.settings.limits, privacy=factory.privacy,
                secret=factory.pii_secret, cache_dir=scan_cache_dir(factory), run_id=run_id, claimed=claimed,
                raw=raw)


def scan_sources(factory: Factory, sources: list[Source], run_id: str,
                 raw: RawView | None = None) -> list[IngestReport]:
    """Scan the sources of one run, which may not give one document id two files."""
    claimed: dict[str, str] = {}
    return [scan_source(factory, s, run_id, claimed, raw) for s in sources]


def scan_cache_dir(factory: Factory) -> Path:
    return factory.settings.home / "state" / "scan"


def split_pending(pending: list[DocumentEvent], epoch: str,
                  held: Callable[[Iterable[Position]], set[Position]] | None = None,
                  ) -> tuple[list[DocumentEvent], set[str]]:
    """Pending events still on the topic, and the others, to republish: those of an earlier
    log epoch, and those of this epoch at positions the log no longer `held` (a cluster
    that lost its log but kept its id: retention, a re-formatted or recreated topic)."""
    here = {e.event_id: (e.origin.topic, e.origin.partition, e.origin.offset)
            for e in pending if e.origin is not None and e.origin.epoch == epoch}
    kept = held(here.values()) if held is not None and here else set(here.values())
    on_topic = {event_id for event_id, at in here.items() if at in kept}
    return [e for e in pending if e.event_id not in on_topic], on_topic


def landed_letters(lake: Lake) -> set[str]:
    """Ids of the dead letters in the lake."""
    return dead_letter_table.letter_ids(lake)
