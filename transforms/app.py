"""The faust-streaming app: raw document events in, chunk records out.

The agent is a thin loop over `process.to_chunks`. Each output is awaited until
the broker acknowledges it before the input event is acknowledged, so a crash
can repeat work (the chunk ids are derived, landing skips repeats) but never
lose it. Bad input goes to the dead-letter topic with its reason.
"""

from __future__ import annotations

import logging
from typing import Any

import faust
from faust.tables import TableManager
from mode.utils.times import Seconds

from governance.contracts import ChunkRecord, DeadLetter, DocumentEvent, LogPosition
from governance.errors import ContractError, GovernanceError, ResidencyError
from governance.privacy import PrivacyPolicy, load_privacy_policy
from governance.residency import ResidencyPolicy, load_policy
from governance.sealing import Sealer
from ingest.security import faust_credentials
from ingest.settings import KafkaSettings
from transforms.errors import TransformFailed
from transforms.faust_kafka import App
from transforms.process import EmptyDocumentError, to_chunks
from transforms.settings import TransformSettings
from transforms.tokens import TokenCounter, TokenizerError, token_counter

log = logging.getLogger(__name__)


def app_id(settings: KafkaSettings) -> str:
    return f"{settings.topic_prefix}-transforms"


def internal_topics(settings: KafkaSettings) -> dict[str, int]:
    """Faust's own topics, to be created up front with the partition count it expects."""
    return {f"{app_id(settings)}-__assignor-__leader": 1}


class StatelessTableManager(TableManager):
    """Faust's table manager, less the second it waits at start for tables declared
    late, which delays the group join of every run: this app declares no tables (its
    agent is stateless), and with any it waits as faust does."""

    async def sleep(self, n: Seconds) -> None:
        await super().sleep(n if self else 0)


def create_app(settings: KafkaSettings, bootstrap_servers: str, epoch: str, chain: TransformSettings) -> faust.App:
    if chain.tokenizer_dir is None:
        raise TokenizerError("the transform worker needs AIFACTORY_TOKENIZER_DIR, the embedding model folder whose "
                             "tokenizer measures chunks; the pipeline that starts the worker sets it")
    counter = token_counter(chain.tokenizer_dir)
    brokers = ";".join(f"kafka://{h.strip()}" for h in bootstrap_servers.split(",") if h.strip())
    # Faust would put its state under the working directory otherwise.
    where: dict[str, Any] = {"datadir": str(chain.worker_datadir)} if chain.worker_datadir else {}
    app = App(
        app_id(settings), broker=brokers, fetch_max_wait_ms=settings.fetch_max_wait_ms, store="memory://",
        web_enabled=False,
        topic_partitions=settings.partitions, topic_replication_factor=max(settings.topic_replication, 1),
        broker_credentials=faust_credentials(settings),
        topic_allow_declare=False, consumer_auto_offset_reset="earliest",
        # The worker's join waits on this session timeout (see KafkaSettings); heartbeats
        # go out four times a session.
        broker_session_timeout=settings.worker_session_ms / 1000,
        broker_heartbeat_interval=settings.worker_session_ms / 4000,
        TableManager=StatelessTableManager, **where,
    )
    privacy = load_privacy_policy(chain.privacy_policy)
    residency = load_policy(chain.residency_policy) if chain.enforce_residency else None
    secret = chain.secret_bytes
    sealer = chain.sealer()
    raw = app.topic(settings.raw_topic, key_serializer="raw", value_serializer="raw")
    chunks = app.topic(settings.chunks_topic, key_serializer="raw", value_serializer="raw")
    dead = app.topic(settings.dead_letter_topic, key_serializer="raw", value_serializer="raw")

    def transform(value: bytes, at: LogPosition) -> list[ChunkRecord] | DeadLetter:
        return chunk_event(value, at, counter, privacy=privacy, secret=secret,
                           threshold=chain.quarantine_threshold, residency=residency, sealer=sealer,
                           learned=chain.screening_model)

    @app.agent(raw, name="chunker")
    async def chunker(stream: Any) -> None:
        async for event in stream.events():
            msg = event.message
            at = LogPosition(epoch=epoch, topic=msg.topic, partition=msg.partition, offset=msg.offset)
            out = transform(event.value, at)
            if isinstance(out, DeadLetter):
                fut = await dead.send(key=out.dead_letter_id.encode(), value=out.to_json())
                await fut
                continue
            futures = [await chunks.send(key=r.document_id.encode(), value=r.to_json()) for r in out]
            for fut in futures:
                await fut

    return app


def chunk_event(value: bytes, at: LogPosition, counter: TokenCounter, *, privacy: PrivacyPolicy, secret: bytes,
                threshold: float, residency: ResidencyPolicy | None = None,
                sealer: Sealer | None = None, learned: bool = True) -> list[ChunkRecord] | DeadLetter:
    """The chunk records of one raw event, or its dead letter. Any failure on the event
    dead-letters it, so one input that meets a bug never stops the stream behind it.
    With a `sealer`, the event's text is opened here and each chunk's sealed again."""
    sealer = sealer or Sealer(None)
    try:
        doc = sealer.open_record(DocumentEvent.from_json(value))
        if residency is not None:
            residency.check(doc.jurisdiction, doc.region)
        chunks = to_chunks(doc, at, counter, privacy=privacy, secret=secret, threshold=threshold, learned=learned)
        return [sealer.seal_record(c) for c in chunks]
    except (GovernanceError, EmptyDocumentError) as exc:
        return _dead_letter(value, at, exc, residency)
    except Exception as exc:  # a bug on this input: kept as a dead letter, logged in full
        log.exception("chunking the event at %s/%s/%s failed", at.topic, at.partition, at.offset)
        failed = TransformFailed(f"an unexpected error while chunking ({type(exc).__name__}: {exc}); the "
                                 f"transform worker's log has the traceback: report it, and after a fix run "
                                 f"`aifactory dlq replay`")
        return _dead_letter(value, at, failed, residency)


def _dead_letter(value: bytes, at: LogPosition, exc: Exception,
                 residency: ResidencyPolicy | None = None) -> DeadLetter:
    try:
        doc = DocumentEvent.from_json(value)
    except ContractError:
        where = f"kafka:{at.topic}/{at.partition}/{at.offset}"
        return DeadLetter.new(stage="transform", error=exc, source_uri=where,
                              key=f"{at.epoch}/{at.offset}", raw=at)
    # One dead letter per attempt: a replay that fails again is a new, visible attempt.
    attempt = f"{doc.event_id}@{at.epoch}/{at.partition}/{at.offset}"
    region = doc.region
    if isinstance(exc, ResidencyError) and residency is not None:
        # Quarantined where the jurisdiction may be stored, never in the refused region.
        region = residency.home_region(doc.jurisdiction)
    return DeadLetter.new(stage="transform", error=exc, source_uri=doc.source_uri, key=attempt,
                          source_root=doc.source_root, tenant=doc.tenant, jurisdiction=doc.jurisdiction,
                          region=region, event_id=doc.event_id, raw=doc.origin or at)
