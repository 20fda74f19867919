"""The stages as long-lived services, each a Kafka consumer-group member that owns
the partitions it is assigned (`aifactory worker KIND`, or all of them under
`aifactory up`):

    transform   the faust worker                     group <prefix>-transforms
    land        raw, chunks and dead-letter landers  groups <prefix>-land-*
    index       the indexer: chunks topic -> index   group <prefix>-index

Start as many transform and land services as there are cores to spare: the group
shares the partitions among them, and when one dies (kill -9 included) the others
take its partitions over. Landing stays exactly-once across processes (see
ingest/landing.py); the indexer applies each change of the chunks lake as its
rows appear (`vectorstore.sync.LivePlan`), one index sync at a time.

Each service announces itself (presence.py): commands see which run, and when the
landers and the transform workers do, they publish into the running factory and
wait for its outcomes instead of starting stages of their own (client.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from governance.contracts import ChunkRecord
from ingest.kafka import KafkaConnection
from ingest.landing import Lander
from pipeline.attach import ServiceError, broker_of, mark
from pipeline.factory import Factory
from pipeline.presence import present
from pipeline.project import Project
from pipeline.runlineage import complete
from pipeline.runner import RunReport
from pipeline.stream import make_landers
from transforms.worker import TransformWorker
from vectorstore.ahead import EmbedAhead

log = logging.getLogger(__name__)

KINDS = ("transform", "land", "index")
POLL_MS = 50  # how long the indexer waits for a chunk message before looking at the lake anyway
# Chunk messages reach the indexer before the landers have written them: after messages
# whose rows were not in the lake yet, it looks again this often, for at most LANDING_S.
LANDING_POLL_MS = 10
LANDING_S = 1.0
AHEAD_KEEP_S = 60.0  # a vector embedded from a message and never asked for is dropped after this
STORAGE_EVERY_S = 30.0  # the indexer's storage snapshots, at most this often (and when it stops)
LINEAGE_EVERY_S = 5.0  # the land service reports what it landed at most this often


@contextlib.contextmanager
def service_connection(factory: Factory) -> Iterator[KafkaConnection]:
    where = broker_of(factory)
    if where is None:
        raise ServiceError("no broker to join: start the whole factory with `aifactory up`, or set "
                           "KAFKA_BOOTSTRAP_SERVERS to a Kafka cluster")
    conn = KafkaConnection(factory.settings.kafka, where[0], where[1])
    conn.ensure_topics()
    yield conn


def serve(factory: Factory, kind: str, stop: threading.Event, *, say: Callable[[str], object] = log.info) -> None:
    """Run one service until `stop` is set; raises what stopped it otherwise."""
    if kind not in KINDS:
        raise ServiceError(f"no service {kind!r}; the services are {', '.join(KINDS)}")
    with service_connection(factory) as conn, \
            present(factory.settings.home, kind, detail={"bootstrap": conn.bootstrap_servers}):
        say(f"{kind} service joined {conn.bootstrap_servers} ({conn.epoch})")
        {"transform": transform, "land": land, "index": index}[kind](factory, conn, stop)
        say(f"{kind} service stopped")


def transform(factory: Factory, conn: KafkaConnection, stop: threading.Event) -> None:
    """The faust worker, as a child process; its log is beside the service's."""
    log_path = factory.settings.log_dir / "services" / f"transform-{os.getpid()}.faust.log"
    worker = TransformWorker(conn, log_path, factory.transform_env()).start()
    try:
        while not stop.wait(0.5):
            worker.check()
    finally:
        worker.stop()


def land(factory: Factory, conn: KafkaConnection, stop: threading.Event) -> None:
    """The three landers as group members; what they land is reported as lineage (so
    Dagster's outside-writes sensor sees it) and metered under this service's run."""
    run_id = f"land-{uuid.uuid4().hex[:16]}"
    landers = make_landers(factory, conn, raw=True, run_id=lambda: run_id, member=True)
    reporter = LandedReport(factory, landers)
    try:
        for lander in landers.values():
            lander.start()
        while not stop.wait(0.5):
            for lander in landers.values():
                lander.check()
            reporter.maybe()
    finally:
        for lander in landers.values():
            lander.request_stop()
        for lander in landers.values():
            lander.stop()
        reporter.maybe(now=True)


class LandedReport:
    """What the landers landed since the last report, as one lineage run."""

    def __init__(self, factory: Factory, landers: dict[str, Lander]) -> None:
        self.factory, self.landers = factory, landers
        self.reported: dict[str, int] = {}
        self.at = time.monotonic()

    def maybe(self, *, now: bool = False) -> None:
        landed = {name: lander.rows_landed for name, lander in self.landers.items()}
        if landed == self.reported or (not now and time.monotonic() - self.at < LINEAGE_EVERY_S):
            return
        report = RunReport(run_id=f"land-{uuid.uuid4().hex[:16]}")
        report.raw_landed = landed.get("raw", 0) - self.reported.get("raw", 0)
        report.chunks_landed = landed.get("chunks", 0) - self.reported.get("chunks", 0)
        report.dead_letters_landed = landed.get("dead_letters", 0) - self.reported.get("dead_letters", 0)
        complete(self.factory, "aifactory.land", report)
        self.reported, self.at = landed, time.monotonic()


# --- the indexer -----------------------------------------------------------------------------


def index(factory: Factory, conn: KafkaConnection, stop: threading.Event) -> None:
    """Keep the index equal to the chunks lake: wake on each chunk message (or every
    POLL_MS), apply the lake files that appeared since, one sync at a time. When
    `aifactory reindex` switches the active model, the indexer moves to its collections."""
    group = f"{conn.settings.topic_prefix}-index"
    consumer = conn.member(group, conn.settings.chunks_topic)
    home = factory.settings.home
    own: Factory | None = None  # a factory of the new model, after a switch: closed here
    try:
        project = Project(factory, live=True, storage_every_s=STORAGE_EVERY_S)
        ahead = EmbedAhead.fed()  # from the messages, on this thread
        expect_until = 0.0  # rows announced by messages are expected in the lake until then
        while not stop.is_set():
            landing = time.monotonic() < expect_until
            polled = consumer.poll(timeout_ms=LANDING_POLL_MS if landing else POLL_MS)
            if polled:
                project.embed_announced(factory.sealer.open_rows(_announced(polled)), ahead)
            if _switched(project.factory):
                if own is not None:
                    own.close()
                project.meter_storage(now=True)
                own = Factory(factory.settings)
                project = Project(own, live=True, storage_every_s=STORAGE_EVERY_S)
                if factory.command_runner is not None:  # commands carried out here use the new model
                    own.serve_commands(factory.command_runner)
                ahead = EmbedAhead.fed()
                log.warning("the active model changed: indexing into %s from now on", own.embedder.fingerprint.id)
            began = time.time()
            report = RunReport(run_id=f"index-{uuid.uuid4().hex[:16]}")
            report.index = project(report.run_id, ahead=ahead)
            if report.index is not None:
                expect_until = 0.0
                ahead.drop(AHEAD_KEEP_S)
            elif polled:
                expect_until = time.monotonic() + LANDING_S
            mark(home, began)  # first: clients wait on it; the lineage is a report of what is done
            if report.index is not None and (report.index.upserted or report.index.deleted):
                complete(project.factory, "aifactory.index", report)
            if polled:
                consumer.commit()  # the messages only woke the indexer; the lake says what to apply
        project.meter_storage(now=True)
    finally:
        consumer.close(autocommit=False)
        if own is not None:
            own.close()


def _announced(polled: dict[Any, list[Any]]) -> list[dict[str, Any]]:
    """The chunk rows that polled messages carry (a message that does not decode is the
    lander's to dead-letter; the indexer only skips it)."""
    rows = []
    for records in polled.values():
        for record in records:
            try:
                rows.append(ChunkRecord.from_json(record.value).model_dump(include={"op", "chunk_id", "region",
                                                                                    "tenant", "title", "text"}))
            except ValueError:
                continue
    return rows


def _switched(factory: Factory) -> bool:
    """Whether `aifactory reindex` made another model active since `factory` loaded its own."""
    active = factory.active_model()
    return active is not None and active["id"] != factory.embedder.fingerprint.id
