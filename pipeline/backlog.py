"""Landing the raw-topic backlog: events that other producers published.

A run lands what it publishes itself (`pipeline.ingest_only`). Events another process
put on the raw topic (an `aifactory ingest` elsewhere, a webhook relay, any producer of
DocumentEvents) wait there until the raw landing group (`<prefix>-land-raw`) reads them;
the raw-topic lag sensor sees that lag and asks for a run, whose raw_lake step calls
`land_backlog`:

    end offsets of the raw topic, read once at the start
      -> the raw lander (and the dead-letter lander, for messages it refuses) runs
      -> until the group's committed offsets reach those end offsets (and the lander
         reads nothing new: the embedded broker can report an end offset short)
      -> the landers stop, landing what they have read first

The lander commits an offset only after its rows are durable and skips rows the lake
already holds by event id (ingest/landing.py), so a second call lands nothing twice.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from governance.contracts import LogPosition
from governance.errors import GovernanceError
from ingest.errors import LandingTimeout
from ingest.kafka import KafkaConnection
from ingest.landing import Lander
from pipeline.factory import Factory
from pipeline.stream import make_landers

REQUEST_TIMEOUT_MS = 10_000
WAIT_STEP_S = 0.5  # how often the committed offsets are read back: over two of the lander's polls
QUIET_CAP_S = 10.0  # how long landing may go on past the end offsets read at the start


@dataclass
class BacklogReport:
    """What one call landed: rows, and per partition the group's committed offset
    before and after (`offsets`), against the end offset it aimed for (`targets`)."""

    topic: str
    landed: int = 0
    dead_lettered: int = 0  # kept out of the lake: a broken contract, or a region the policy refuses
    dead_letters_landed: int = 0
    offsets: dict[int, tuple[int, int]] = field(default_factory=dict)
    targets: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def consumed(self) -> int:
        return sum(after - before for before, after in self.offsets.values())

    def metadata(self) -> dict[str, Any]:
        """Offsets consumed per `topic[partition]`, for an asset's materialisation."""
        return {f"{self.topic}[{p}]": {"from": before, "to": after, "end": self.targets.get(p, after)}
                for p, (before, after) in sorted(self.offsets.items())}


@contextlib.contextmanager
def offsets_reader(bootstrap_servers: str, group_id: str, **options: Any) -> Iterator[KafkaConsumer]:
    """A consumer of the group that never subscribes: it only fetches offsets, so the
    group is not rebalanced under the landers. `options`: the security options."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=group_id,
                             request_timeout_ms=REQUEST_TIMEOUT_MS, enable_auto_commit=False, **options)
    try:
        yield consumer
    finally:
        consumer.close()


def committed_and_end(consumer: KafkaConsumer, topic: str) -> dict[int, tuple[int, int]]:
    """partition -> (committed offset of the consumer's group, end offset of the topic)."""
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    ends = consumer.end_offsets(partitions) if partitions else {}
    return {tp.partition: (consumer.committed(tp) or 0, ends[tp]) for tp in partitions}


def watched_offsets(conn: KafkaConnection, consumer: KafkaConsumer, topic: str) -> dict[int, tuple[int, int]]:
    """`committed_and_end` under the broker watch: a dead embedded broker raises
    BrokerError at once instead of the client waiting out its timeouts."""
    return conn.call(lambda: committed_and_end(consumer, topic))


def consumer_lag(bootstrap_servers: str, topic: str, group_id: str, **options: Any) -> dict[int, tuple[int, int]]:
    """partition -> (committed offset of the group, end offset of the topic)."""
    with offsets_reader(bootstrap_servers, group_id, **options) as consumer:
        return committed_and_end(consumer, topic)


def land_backlog(factory: Factory, conn: KafkaConnection, *, run_id: str = "") -> BacklogReport:
    """Land every raw-topic message the raw landing group has not committed yet, up to
    the end offsets read at the start; what lands is metered under `run_id`. Raises
    LandingTimeout, naming the topic, when the group does not get there within
    `stage_timeout_s`."""
    settings = conn.settings
    topic, started = settings.raw_topic, time.monotonic()
    report = BacklogReport(topic=topic)
    landers = make_landers(factory, conn, raw=True, run_id=lambda: run_id)
    raw, letters = landers["raw"], landers["dead_letters"]
    with offsets_reader(conn.bootstrap_servers, raw.group_id, **conn.options) as reader:
        before = watched_offsets(conn, reader, topic)
        report.targets = {p: end for p, (_, end) in before.items()}
        behind = {p for p, (committed, end) in before.items() if committed < end}
        if not behind:
            report.offsets = {p: (c, c) for p, (c, _) in before.items()}
            return report
        dead_lettered = _record_bad(raw)
        for lander in (raw, letters):
            lander.start()
        try:
            deadline = started + factory.settings.stage_timeout_s
            now, read, reached = before, -1, 0.0
            while True:
                conn.check()
                _check_all(raw, letters)
                if not any(now[p][0] < report.targets[p] for p in behind):
                    # Tansu can report an end offset short of the last record (ARCHITECTURE.md), so go on
                    # until a step reads nothing new and all that was read is committed, for at most
                    # QUIET_CAP_S past the targets (a topic that never goes quiet must not hold the run).
                    reached = reached or time.monotonic()
                    committed = sum(now[p][0] - before[p][0] for p in before)
                    if (raw.messages == read and committed >= read) or time.monotonic() - reached > QUIET_CAP_S:
                        break
                read = raw.messages
                if time.monotonic() > deadline:
                    lag = sum(max(report.targets[p] - now[p][0], 0) for p in behind)
                    raise LandingTimeout(
                        f"the backlog of topic {topic!r} was not landed in {factory.settings.stage_timeout_s:.0f} s: "
                        f"group {raw.group_id!r} is still {lag} message(s) short of the end offsets "
                        f"{report.targets} at {conn.bootstrap_servers}; raise AIFACTORY_STAGE_TIMEOUT_S for a "
                        "large backlog, or run again to resume (what landed stays landed)")
                time.sleep(WAIT_STEP_S)
                now = watched_offsets(conn, reader, topic)
            if dead_lettered:
                # Dead letters the raw lander published must land too, or they wait for another run.
                _wait_for_group(factory, conn, letters, deadline)
        finally:
            for lander in (raw, letters):
                lander.stop()
        after = watched_offsets(conn, reader, topic)
    report.offsets = {p: (before[p][0], after[p][0]) for p in before}
    report.landed = raw.rows_landed
    report.dead_lettered = len(dead_lettered)
    report.dead_letters_landed = letters.rows_landed
    report.seconds = time.monotonic() - started
    return report


def _record_bad(raw: Lander) -> list[LogPosition]:
    """The positions the raw lander dead-letters, recorded as it goes (through the
    `on_bad` that `make_landers` gives it)."""
    bad: list[LogPosition] = []
    inner = raw.on_bad

    def on_bad(msg: Any, at: LogPosition, exc: GovernanceError) -> None:
        if inner is not None:
            inner(msg, at, exc)
        bad.append(at)

    raw.on_bad = on_bad
    return bad


def _wait_for_group(factory: Factory, conn: KafkaConnection, lander: Lander, deadline: float) -> None:
    """Until `lander`'s group has committed up to its topic's end offsets as of now."""
    with offsets_reader(conn.bootstrap_servers, lander.group_id, **conn.options) as reader:
        targets = {p: end for p, (_, end) in watched_offsets(conn, reader, lander.topic).items()}
        while any(c < targets[p] for p, (c, _) in watched_offsets(conn, reader, lander.topic).items()):
            conn.check()
            lander.check()
            if time.monotonic() > deadline:
                raise LandingTimeout(f"the dead letters of topic {lander.topic!r} were not landed in "
                                     f"{factory.settings.stage_timeout_s:.0f} s; run again to resume")
            time.sleep(WAIT_STEP_S)


def _check_all(*landers: Lander) -> None:
    for lander in landers:
        lander.check()
