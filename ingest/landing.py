"""Landing: one consumer group per sink, from a topic into a lake table.

The order is what makes it exactly-once: rows already in the lake are skipped by
their derived key, new rows are written durably, and only then are the offsets
committed. A crash between the write and the commit re-reads the batch, and the
keys make the second landing a no-op.

A lander is either alone, assigned every partition (a command's own stream), or a
consumer-group member (`member=True`, the land service): it owns the partitions the
group gives it. On a revoke it lands what it has read and commits before letting
go; on an assignment it reloads the keys the lake holds, so rows another member
landed are skipped. A document's events and chunks share a partition (keyed by
document id), so no two members ever land the same row at once.

A lander keeps no landed row once it is handed on: it counts them (`rows_landed`),
and a consumer that needs the rows opens a `Feed` and drains it. Rows go only to
the feeds open when they land, so a lander nobody reads (the raw one) holds no
row bodies at all, and a resident service does not grow with what it landed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kafka import ConsumerRebalanceListener, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.structs import OffsetAndMetadata

from governance.contracts import LogPosition
from governance.errors import FactoryError, GovernanceError
from ingest.kafka import KafkaConnection
from ingest.key_index import KeyIndex
from ingest.lake import Lake, TableSpec

log = logging.getLogger(__name__)

POLL_MS = 200
# A member (a service) lands as soon as a poll this long finds nothing more: what it lands
# is waited for by the commands that published it, and it has no stop to hurry.
MEMBER_POLL_MS = 50
# Once a member holds rows, how long it waits for more before landing them: the rest of
# a burst (a document's chunks are sent back to back) arrives within a few milliseconds.
MEMBER_MORE_MS = 10
FLUSH_ROWS = 5_000
FLUSH_INTERVAL_S = 0.5
STOP_WAIT_S = 60.0  # how long `stop` waits for the thread to land what it read
DEAD_BROKER_WAIT_S = 1.0  # with the embedded broker dead, only for a write in flight

# Turns one message into a lake row; raises a GovernanceError (a broken contract, a
# document the privacy policy drops) for a message that must not land.
Decoder = Callable[[bytes, LogPosition], dict[str, Any]]
# Called with a bad message and its error, so that it can be dead-lettered.
OnBad = Callable[[ConsumerRecord, LogPosition, GovernanceError], None]
# Called with the rows of a batch once they are durable and before the offsets are
# committed (metering): a row the lake already held is never passed twice.
OnLanded = Callable[[list[dict[str, Any]]], None]
Row = dict[str, Any]


class Feed:
    """The rows a lander lands from the moment the feed is opened, in order.
    `take` drains them; a closed feed gets nothing more."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: list[Row] = []
        self.closed = False

    def put(self, rows: list[Row]) -> None:
        with self._lock:
            if not self.closed:
                self._rows.extend(rows)

    def take(self) -> list[Row]:
        """Rows landed since the last take (or since the feed was opened)."""
        with self._lock:
            rows, self._rows = self._rows, []
        return rows

    def close(self) -> None:
        with self._lock:
            self.closed, self._rows = True, []


class Rebalance(ConsumerRebalanceListener):
    """A member's lander hears of its partitions: it lands and commits what it read
    before they go (another member starts from the commit), and reloads the lake's
    keys when new ones come."""

    def __init__(self, lander: Lander) -> None:
        self.lander = lander

    def on_partitions_revoked(self, revoked: Any) -> None:
        lander = self.lander
        if lander._consumer is not None and (lander._rows or lander._offsets):
            # kafka-python 3 calls this on its network thread, where a blocking commit raises:
            # the rows land here, the commit goes out without a wait. Should it be lost, the
            # next owner reads the rows again and skips them by key.
            lander.flush(lander._consumer, wait=False)

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.lander.on_assigned({tp.partition for tp in assigned})


class Lander:
    """Lands one topic into one lake table, in the calling thread or its own."""

    def __init__(self, conn: KafkaConnection, lake: Lake, *, topic: str, spec: TableSpec,
                 decode: Decoder, group_id: str, on_bad: OnBad | None = None,
                 on_landed: OnLanded | None = None, member: bool = False) -> None:
        self.conn, self.lake, self.topic, self.spec = conn, lake, topic, spec
        self.decode, self.on_bad, self.on_landed, self.group_id = decode, on_bad, on_landed, group_id
        self.member = member
        # The table's keys on disk (key_index.py): a lander's memory does not grow with the lake.
        self.keys = KeyIndex(lake, spec)
        self.keys.refresh()
        self.assigned: set[int] = set()  # partitions a member owns now
        self._rows: list[Row] = []  # read, not yet landed
        self._unflushed: set[str] = set()  # their keys: read, not yet in the lake
        self._offsets: dict[TopicPartition, int] = {}
        self._consumer: Any = None
        self.refused: set[str] = set()  # keys the residency policy kept out of the lake
        self.rows_landed = 0  # rows this lander wrote to the lake; the rows go only to open feeds
        self._feeds: list[Feed] = []
        self.messages = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        if self.member:
            consumer = self.conn.member(self.group_id, self.topic, Rebalance(self))
        else:
            consumer = self.conn.consumer(self.group_id, self.topic)
        self._consumer = consumer
        try:
            while not self._stop.is_set():
                self._land_batch(consumer)
            self._land_batch(consumer)  # whatever arrived while stopping
        except BaseException:
            # A message failed mid-batch: closing a member revokes its partitions, and the
            # revoke must not commit past that message; it is read again, with what preceded it.
            self._rows, self._offsets = [], {}
            raise
        finally:
            consumer.close(autocommit=False)

    def _land_batch(self, consumer: Any) -> None:
        started = time.monotonic()
        while len(self._rows) < FLUSH_ROWS and time.monotonic() - started < FLUSH_INTERVAL_S:
            wait = (MEMBER_MORE_MS if self._rows or self._offsets else MEMBER_POLL_MS) if self.member else POLL_MS
            polled = consumer.poll(timeout_ms=wait, max_records=FLUSH_ROWS)
            if not polled:
                break
            for tp, messages in polled.items():
                for msg in messages:
                    self.messages += 1
                    self._offsets[tp] = msg.offset + 1
                    pos = LogPosition(epoch=self.conn.epoch, topic=msg.topic,
                                      partition=msg.partition, offset=msg.offset)
                    row = None
                    try:
                        row = self.decode(msg.value, pos)
                        self.lake.admit(self.spec, row)
                    except GovernanceError as exc:
                        if row is not None:
                            self.refused.add(row[self.spec.key])
                        log.warning("bad message on %s[%d]@%d: %s", msg.topic, msg.partition,
                                    msg.offset, exc)
                        if self.on_bad:
                            self.on_bad(msg, pos, exc)
                        continue
                    key = row[self.spec.key]
                    if key in self._unflushed:  # read twice before landing; the lake's keys are asked at flush
                        continue
                    with self._lock:
                        self._unflushed.add(key)
                    self._rows.append(row)  # not a local: a revoke in `poll` flushes and renews it
        self.flush(consumer)

    def flush(self, consumer: Any, *, wait: bool = True) -> None:
        """Land the rows read so far durably, then commit their offsets (without `wait`,
        the commit is sent and its failure logged)."""
        rows, offsets = self._rows, self._offsets
        self._rows, self._offsets = [], {}
        if rows:
            key = self.spec.key
            keys = [r[key] for r in rows]
            # Landed before (read again after a crash, or by another member): skipped.
            new = self.keys.land(keys, lambda new: self.lake.write(self.spec, [r for r in rows if r[key] in new]))
            rows = [r for r in rows if r[key] in new]
            with self._lock:
                self._unflushed.difference_update(keys)
        if rows:
            with self._lock:
                self.rows_landed += len(rows)
                self._feeds = [f for f in self._feeds if not f.closed]
                for feed in self._feeds:
                    feed.put(rows)
            if self.on_landed:
                self.on_landed(rows)
        if offsets:
            # Only now that the rows are durable.
            commits = {tp: OffsetAndMetadata(off, "", -1) for tp, off in offsets.items()}
            if wait:
                consumer.commit(commits)
            else:
                consumer.commit_async(commits, callback=self._committed)

    def _committed(self, offsets: Any, response: Any) -> None:
        if isinstance(response, Exception):  # the group moved on: the rows are durable, and skipped by key
            log.warning("lander %s could not commit before its partitions moved: %s", self.group_id, response)

    def unlanded(self, keys: set[str]) -> set[str]:
        """Which of `keys` are not durably in the lake yet (read, but not written, counts
        as not landed), leaving out rows the residency policy refused."""
        return set(keys) - self.keys.landed(keys) - self.refused

    def on_assigned(self, partitions: set[int]) -> None:
        """A member got partitions: rows another member landed from them are in the lake now."""
        self.assigned = partitions
        self.keys.refresh()
        log.info("lander %s owns %s[%s]", self.group_id, self.topic, ",".join(map(str, sorted(partitions))))

    def feed(self) -> Feed:
        """A feed of the rows landed from now on; open it before `start` to miss none."""
        feed = Feed()
        with self._lock:
            self._feeds.append(feed)
        return feed

    def start(self) -> Lander:
        def target() -> None:
            try:
                self.run()
            except BaseException as exc:
                self.error = exc
                if isinstance(exc, FactoryError):  # a person's error: `check` raises it where the command reports it
                    log.debug("lander for %s failed: %s", self.topic, exc, exc_info=True)
                elif self.conn.alive:
                    log.exception("lander for %s failed", self.topic)
                else:  # the command reports the broker's death; a traceback per lander adds nothing
                    log.debug("lander for %s stopped with the broker: %r", self.topic, exc)

        self._thread = threading.Thread(target=target, name=f"land-{self.spec.name}", daemon=True)
        self._thread.start()
        return self

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def request_stop(self) -> None:
        """Ask the thread to land what it has read and end, without waiting for it (`stop` waits)."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            # A consumer of a dead broker only retries (bootstrap, commit): wait no longer than a
            # write in flight needs. The thread is a daemon; what it left, the next run re-reads.
            deadline = time.monotonic() + STOP_WAIT_S
            while self._thread.is_alive() and time.monotonic() < deadline and self.conn.alive:
                self._thread.join(0.1)
            if not self.conn.alive:
                self._thread.join(DEAD_BROKER_WAIT_S)
        self.check()
