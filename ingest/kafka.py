"""Kafka clients: topic admin, producer and consumers, for a real cluster or the
embedded broker alike.

With the embedded broker, a connection knows the broker process: `check` raises
BrokerError once it died, `call` gives up a blocking client call at that moment,
and `connect` turns any error out of its block into that BrokerError.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError
from kafka.producer.future import FutureRecordMetadata

from ingest.broker import EmbeddedBroker
from ingest.errors import BrokerError
from ingest.security import client_options, secured
from ingest.settings import KafkaSettings

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_MS = 30_000
PRODUCE_RETRIES = 5
ACK_TIMEOUT_S = 30.0  # how long `produce` waits for any one acknowledgement
# Bytes sent and not yet acknowledged, at most: past it, `produce` waits for the oldest.
# A record's delivery timeout counts from when it is queued, so a large archive queued
# whole would expire behind its own earlier documents; a window also bounds memory.
PRODUCE_WINDOW_BYTES = 32 * 1024 * 1024
WATCH_STEP_S = 0.1  # how often a blocking call looks at the embedded broker process
# How long the first handshake may take. kafka-python waits without end for a TLS answer
# from a broker that speaks plaintext (seen: past its own bootstrap timeout).
CONNECT_TIMEOUT_S = 15.0
END_READ_WAIT_MS = 1_000  # how long a read past a partition's reported end waits for a record

T = TypeVar("T")


@dataclass(frozen=True)
class KafkaConnection:
    """A reachable cluster: where it is and which log epoch it holds."""

    settings: KafkaSettings
    bootstrap_servers: str
    epoch: str
    broker: EmbeddedBroker | None = field(default=None, compare=False, repr=False)

    def check(self) -> None:
        """Raise BrokerError if the embedded broker died: its clients would only retry."""
        if self.broker is not None:
            self.broker.check()

    @property
    def alive(self) -> bool:
        """False once the embedded broker is gone; a cluster is taken to be there."""
        return self.broker is None or self.broker.running

    def call(self, fn: Callable[[], T]) -> T:
        """Run a blocking client call; with the embedded broker, raise BrokerError as
        soon as it dies instead of waiting out the client's retries. The call is then
        left to end on its own thread (a daemon)."""
        if self.broker is None:
            return fn()
        future = on_thread(fn, "kafka-call")
        while not wait_for([future], WATCH_STEP_S).done:
            self.check()
        try:
            return future.result()
        except Exception as exc:
            self.blame_broker(exc)
            raise

    def blame_broker(self, exc: Exception) -> None:
        """Raise BrokerError from `exc` if the embedded broker died: whatever failed (a
        client error, a timeout, the worker), that is the cause to report."""
        death = self.broker.death() if self.broker is not None and not isinstance(exc, BrokerError) else None
        if death is not None:
            raise BrokerError(death) from exc

    @property
    def options(self) -> dict[str, Any]:
        """Security options every client of this connection takes (ingest/security.py)."""
        return client_options(self.settings)

    def admin(self) -> KafkaAdminClient:
        return KafkaAdminClient(bootstrap_servers=self.bootstrap_servers,
                                request_timeout_ms=REQUEST_TIMEOUT_MS, **self.options)

    def producer(self) -> KafkaProducer:
        # acks=all and bounded retries: an event counts as published once acknowledged.
        # gzip: the embedded broker keeps every record in memory, and text compresses ~3x.
        size = self.settings.max_message_bytes
        return KafkaProducer(bootstrap_servers=self.bootstrap_servers, acks="all",
                             retries=PRODUCE_RETRIES, linger_ms=5, compression_type="gzip",
                             max_request_size=size,
                             request_timeout_ms=REQUEST_TIMEOUT_MS, **self.options)

    def produce(self, records: Iterable[tuple[str, bytes, bytes]]) -> None:
        """Send (topic, key, value) records, at most PRODUCE_WINDOW_BYTES of them
        unacknowledged, and wait for every acknowledgement; with the embedded broker,
        give up as soon as it dies (`call`)."""
        self.call(lambda: self._produce(records))

    def _produce(self, records: Iterable[tuple[str, bytes, bytes]]) -> None:
        producer = self.producer()
        unacked: deque[tuple[FutureRecordMetadata, int]] = deque()
        in_flight = 0

        def oldest_acknowledged() -> None:
            nonlocal in_flight
            fut, size = unacked.popleft()
            # ACK_TIMEOUT_S without an acknowledgement, not for the whole batch: a large
            # archive's many documents take longer, and that is progress, not a hang.
            self._acknowledged(fut, time.monotonic() + ACK_TIMEOUT_S)
            in_flight -= size

        try:
            for topic, key, value in records:
                while unacked and in_flight + len(value) > PRODUCE_WINDOW_BYTES:
                    oldest_acknowledged()
                unacked.append((producer.send(topic, key=key, value=value), len(value)))
                in_flight += len(value)
            while unacked:
                oldest_acknowledged()
        finally:
            if self.alive:
                producer.close()
            else:  # close() flushes first: drop the producer (and the flush it left for exit) instead
                with contextlib.suppress(KafkaError):
                    producer.close(timeout=0)

    def _acknowledged(self, fut: FutureRecordMetadata, deadline: float) -> None:
        while True:
            try:
                fut.get(timeout=WATCH_STEP_S)
                return
            except KafkaTimeoutError as exc:
                if fut.is_done or not self.alive:
                    raise
                if time.monotonic() > deadline:  # seen on a machine too loaded to run the broker
                    raise BrokerError(
                        f"the broker at {self.bootstrap_servers} acknowledged no event for {ACK_TIMEOUT_S:.0f} s "
                        "(overloaded or unreachable); nothing unacknowledged counts as published: run again "
                        "when it answers") from exc

    def consumer(self, group_id: str, topic: str) -> KafkaConsumer:
        """A consumer with manual assignment of every partition: no group rebalance to
        wait for (Tansu is slow to answer rejoins), offsets still committed to the group."""
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap_servers, group_id=group_id,
            enable_auto_commit=False, auto_offset_reset="earliest",
            session_timeout_ms=self.settings.session_timeout_ms,
            request_timeout_ms=REQUEST_TIMEOUT_MS, **self.options,
        )
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            consumer.close()
            raise BrokerError(f"topic {topic!r} has no partitions; was it created?")
        consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        return consumer

    def member(self, group_id: str, topic: str, listener: ConsumerRebalanceListener | None = None) -> KafkaConsumer:
        """A consumer-group member: it owns the partitions the group assigns it, and
        `listener` hears of each change (a service; many of them share a topic)."""
        session = self.settings.worker_session_ms  # Tansu answers a join after half of it
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap_servers, group_id=group_id,
            enable_auto_commit=False, auto_offset_reset="earliest",
            session_timeout_ms=session, heartbeat_interval_ms=max(session // 4, 100),
            request_timeout_ms=REQUEST_TIMEOUT_MS, fetch_max_wait_ms=self.settings.fetch_max_wait_ms,
            **self.options,
        )
        if listener is None:
            consumer.subscribe([topic])
        else:
            consumer.subscribe([topic], listener=listener)
        return consumer

    def ensure_topics(self, extra: dict[str, int] | None = None) -> None:
        """Create every topic explicitly: Tansu auto-creates unknown topics with 4
        partitions, and faust fails on a partition-count mismatch."""
        self.call(lambda: self._ensure_topics(extra))

    def _ensure_topics(self, extra: dict[str, int] | None) -> None:
        s = self.settings
        wanted = {t: s.partitions for t in (s.raw_topic, s.chunks_topic, s.dead_letter_topic)}
        wanted.update(extra or {})
        admin = self.admin()
        try:
            existing = set(admin.list_topics())
            config = {"max.message.bytes": str(s.max_message_bytes)}
            if s.min_insync_replicas:
                config["min.insync.replicas"] = str(s.min_insync_replicas)
            if old := sorted(t for t in wanted if t in existing):  # first: a refusal leaves nothing made
                check_topics(admin.describe_topics(old), wanted, s)
            new = [NewTopic(t, n, s.topic_replication, topic_configs=config) for t, n in wanted.items()
                   if t not in existing]
            if new:
                with contextlib.suppress(TopicAlreadyExistsError):
                    admin.create_topics(new)
                log.info("created topics %s", ", ".join(t.name for t in new))
        finally:
            admin.close()

    def topic_ids(self, topics: Iterable[str]) -> dict[str, str]:
        """Each topic's id, where the cluster gives one: a topic deleted and made again gets a new id."""
        names = sorted(set(topics))
        if not names:
            return {}

        def describe() -> dict[str, str]:
            admin = self.admin()
            try:
                return {str(t.get("name", t.get("topic"))): str(t["topic_id"]) for t in admin.describe_topics(names)
                        if t.get("topic_id") and not t.get("error_code")}
            finally:
                admin.close()

        return self.call(describe)

    def held(self, positions: Iterable[tuple[str, int, int]]) -> set[tuple[str, int, int]]:
        """The (topic, partition, offset) positions this log still holds: at or past the
        partition's earliest offset and before its end. A cluster that lost its log but
        kept its id (retention, a re-formatted or recreated topic) holds fewer than it
        once acknowledged; what it lost must be republished, not waited for."""
        wanted = set(positions)
        if not wanted:
            return set()

        def ranges() -> dict[TopicPartition, tuple[int, int]]:
            consumer = KafkaConsumer(bootstrap_servers=self.bootstrap_servers, group_id=None,
                                     enable_auto_commit=False, request_timeout_ms=REQUEST_TIMEOUT_MS, **self.options)
            try:
                parts = [TopicPartition(t, p) for t, p in {(t, p) for t, p, _ in wanted}]
                first, end = consumer.beginning_offsets(parts), consumer.end_offsets(parts)
                beyond = {tp for tp in parts if any((t, p) == tp and o >= end[tp] for t, p, o in wanted)}
                return {tp: (first[tp], read_end(consumer, tp, end[tp]) if tp in beyond else end[tp])
                        for tp in parts}
            finally:
                consumer.close()

        spans = self.call(ranges)
        return {(t, p, o) for t, p, o in wanted
                if (span := spans.get(TopicPartition(t, p))) is not None and span[0] <= o < span[1]}


def read_end(consumer: KafkaConsumer, tp: TopicPartition, reported: int) -> int:
    """The partition's end as its records show it, read on from the `reported` end. Kafka's is
    exact (nothing comes); Tansu reports a compressed batch's first offset + 1 as the end."""
    consumer.assign([tp])
    consumer.seek(tp, reported)
    last = reported - 1
    while records := consumer.poll(timeout_ms=END_READ_WAIT_MS).get(tp):
        last = records[-1].offset
    return last + 1


def check_topics(described: list[dict[str, Any]], wanted: dict[str, int], settings: KafkaSettings) -> None:
    """Raise BrokerError if an existing topic has other partitions than the factory is set to
    (its workers would fail on the mismatch), or fewer replicas than AIFACTORY_TOPIC_REPLICATION."""
    for topic in described:
        # kafka-python 3 names them `name` and `replica_nodes`; 2.x `topic` and `replicas`.
        name, parts = topic.get("name", topic.get("topic")), topic.get("partitions") or []
        if name not in wanted:
            continue
        if len(parts) != wanted[name]:
            raise BrokerError(
                f"topic {name!r} has {len(parts)} partition(s), the factory is set to {wanted[name]} "
                f"(AIFACTORY_TOPIC_PARTITIONS): set it to {len(parts)}, or use another AIFACTORY_TOPIC_PREFIX")
        replicas = min((len(p.get("replica_nodes", p.get("replicas")) or ()) for p in parts), default=0)
        if settings.replication_factor and replicas < settings.replication_factor:
            raise BrokerError(
                f"topic {name!r} has {replicas} replica(s), fewer than AIFACTORY_TOPIC_REPLICATION="
                f"{settings.replication_factor}: raise its replication on the cluster, or lower the setting")


def reachable(bootstrap_servers: str, timeout_s: float = 5.0) -> bool:
    for server in (s.strip() for s in bootstrap_servers.split(",") if s.strip()):
        host, _, port = server.rpartition(":")
        try:
            socket.create_connection((host.strip("[]") or "localhost", int(port)), timeout=timeout_s).close()
            return True
        except (OSError, ValueError):
            continue
    return False


def tls_problem(bootstrap_servers: str, context: ssl.SSLContext, timeout_s: float = 5.0) -> str | None:
    """Why the first reachable server does not complete a TLS handshake, or None if it does.
    Checked before kafka-python tries: against a plaintext listener it waits without end."""
    for server in (s.strip() for s in bootstrap_servers.split(",") if s.strip()):
        host, _, port = server.rpartition(":")
        host = host.strip("[]") or "localhost"
        try:
            raw = socket.create_connection((host, int(port)), timeout=timeout_s)
        except (OSError, ValueError):
            continue
        try:
            with context.wrap_socket(raw, server_hostname=host):
                return None
        except (OSError, ssl.SSLError) as exc:  # a timeout is an OSError too
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        finally:
            raw.close()
    return None


def on_thread(fn: Callable[[], T], name: str) -> Future[T]:
    """`fn()` started on a daemon thread: a client call that may never return is left there."""
    future: Future[T] = Future()

    def target() -> None:
        try:
            future.set_result(fn())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller by future.result()
            future.set_exception(exc)

    threading.Thread(target=target, name=name, daemon=True).start()
    return future


def within(timeout_s: float, fn: Callable[[], T]) -> T:
    """`fn()`, or TimeoutError after `timeout_s` (the call is left to end on its thread)."""
    future = on_thread(fn, "kafka-connect")
    if not wait_for([future], timeout_s).done:
        raise TimeoutError(f"no answer in {timeout_s:.0f} s")
    return future.result()


def cluster_epoch(bootstrap_servers: str, settings: KafkaSettings | None = None) -> str:
    """The log epoch of the cluster: its id. `settings` give the security options."""
    # A plain TCP probe first: kafka-python retries for a long while and leaks sockets.
    if not reachable(bootstrap_servers):
        raise BrokerError(
            f"cannot reach Kafka at {bootstrap_servers!r}; check KAFKA_BOOTSTRAP_SERVERS, "
            "or leave it empty to use the embedded broker"
        )
    options = client_options(settings) if settings is not None else {}
    if "ssl_context" in options and (problem := tls_problem(bootstrap_servers, options["ssl_context"])):
        raise BrokerError(
            f"Kafka at {bootstrap_servers!r} did not complete a TLS handshake ({problem}); check that the listener "
            "speaks TLS (KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL needs one) and that KAFKA_SSL_CAFILE signed its "
            "certificate")

    def describe() -> str:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000, **options)
        try:
            return f"cluster-{admin.describe_cluster()['cluster_id']}"
        finally:
            admin.close()

    try:
        return within(CONNECT_TIMEOUT_S, describe)
    except (KafkaError, TimeoutError) as exc:
        how = secured(settings) if settings is not None else "PLAINTEXT"
        raise BrokerError(
            f"Kafka at {bootstrap_servers!r} is reachable but did not let a {how} client in ({exc}); check "
            "KAFKA_SECURITY_PROTOCOL and the KAFKA_SSL_*/KAFKA_SASL_* settings against the cluster's listener"
        ) from exc


@contextlib.contextmanager
def connect(settings: KafkaSettings, *, broker_log: str | None = None) -> Iterator[KafkaConnection]:
    """Connect to `KAFKA_BOOTSTRAP_SERVERS`, or start the embedded broker for the
    duration of the block, and make sure the factory's topics exist."""
    if settings.embedded:
        with EmbeddedBroker(Path(broker_log) if broker_log else None) as broker:
            conn = KafkaConnection(settings, broker.bootstrap_servers, broker.epoch, broker)
            try:
                conn.ensure_topics()
                yield conn
            except Exception as exc:
                conn.blame_broker(exc)
                raise
    else:
        conn = KafkaConnection(settings, settings.bootstrap_servers,
                               cluster_epoch(settings.bootstrap_servers, settings))
        conn.ensure_topics()
        yield conn
