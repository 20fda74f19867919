"""Data contracts: the records that travel through the log and land in the lake.

Every record carries tenant, jurisdiction and region, so each sink can check
residency and each row can be traced back to its event. Ids are derived (uuid5),
never random, so a re-run overwrites instead of duplicating.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from governance.errors import ContractError
from governance.names import NAME_PATTERN

SCHEMA_VERSION = 1
# Fixed namespace: changing it would change every derived id in every sink.
ID_NAMESPACE = uuid.UUID("6f1c0b8e-3a52-4c3e-9d0e-5a7f2b9c4e11")

Op = Literal["upsert", "delete"]

# Tenants and regions name lake folders and collections (governance/names.py).
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
OptionalName = Annotated[str, StringConstraints(pattern=r"^$|" + NAME_PATTERN)]


def derive_id(*parts: object) -> str:
    """A stable uuid5 over the given parts, joined unambiguously."""
    return str(uuid.uuid5(ID_NAMESPACE, "\x1f".join(str(p) for p in parts)))


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_json(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str) -> Any:
        try:
            return cls.model_validate_json(data)
        except ValidationError as exc:
            raise ContractError(
                f"not a valid {cls.__name__} (schema v{SCHEMA_VERSION}): {exc.error_count()} "
                f"problem(s), first: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}"
            ) from exc


class LogPosition(_Record):
    """Where an event sits in the log. `epoch` names the log instance: the cluster
    id of a real Kafka cluster, or one start of the memory-only embedded broker,
    whose offsets begin again at zero each time."""

    epoch: str
    topic: str
    partition: int
    offset: int


class DocumentEvent(_Record):
    """A document was created or changed (`upsert`) or removed (`delete`) at its source."""

    schema_version: int = SCHEMA_VERSION
    event_id: str
    op: Op
    tenant: Name
    jurisdiction: str
    region: Name
    document_id: str
    version: int = Field(ge=1)
    content_hash: str
    source_uri: str
    source_root: str
    title: str = ""
    text: str = ""
    format: str = ""
    metadata: dict[str, str] = Field(default_factory=dict)
    # Personal data redacted from this event, by kind: counts only, never values.
    pii: dict[str, int] = Field(default_factory=dict)
    # The subject index: keyed hashes (per tenant) of the personal identifiers found,
    # never the values. On a delete event, the subject whose erasure asked for it.
    subjects: list[str] = Field(default_factory=list)
    # The delete request this event carries out; empty when the source itself changed.
    requested: str = ""
    # Record-level lineage: the parser and redaction policy that made it, and the run
    # that published it (empty on events written before these fields existed).
    parser: str = ""
    privacy: str = ""
    run_id: str = ""
    event_time: datetime
    # Set only when the event is republished from the raw lake (replay, recovery):
    # lineage keeps pointing at the event's first position in the log.
    origin: LogPosition | None = None

    @classmethod
    def new(cls, *, op: Op, tenant: str, document_id: str, version: int, text: str = "",
            **fields: Any) -> DocumentEvent:
        return cls(
            event_id=derive_id("event", tenant, document_id, version, op),
            op=op,
            tenant=tenant,
            document_id=document_id,
            version=version,
            text=text,
            content_hash=content_hash(text) if op == "upsert" else "",
            event_time=fields.pop("event_time", None) or utcnow(),
            **fields,
        )


class ChunkRecord(_Record):
    """One chunk of one document version, or a tombstone (`op=delete`, no text)
    saying that the document is gone. `chunk_id` names the chunk's content within
    its document, so it survives edits elsewhere in the document; `row_id` names
    this record (the chunk as part of one event)."""

    schema_version: int = SCHEMA_VERSION
    row_id: str
    chunk_id: str
    op: Op
    event_id: str
    tenant: Name
    jurisdiction: str
    region: Name
    document_id: str
    version: int
    chunk_no: int
    chunk_count: int
    text: str
    content_hash: str
    title: str
    source_uri: str
    section: str = ""
    page: int | None = None
    token_count: int = 0
    simhash: str = ""  # 64-bit near-duplicate fingerprint, hex
    # What a reader compares (transforms.dedup.reader_key): chunks with one key share a point; kept
    # so a sync finds a changed chunk's family without reading the tenant's texts. "" in old rows.
    reader_key: str = ""
    pii: dict[str, int] = Field(default_factory=dict)
    quarantined: bool = False
    screening_score: float = 0.0
    screening_reasons: list[str] = Field(default_factory=list)
    event_time: datetime
    raw: LogPosition
    chunker: str
    screener: str = ""


class DeadLetter(_Record):
    """An input that could not be processed, with a reason a person can act on."""

    schema_version: int = SCHEMA_VERSION
    dead_letter_id: str
    stage: str
    error_class: str
    reason: str
    source_uri: str
    source_root: str = ""
    tenant: OptionalName = ""
    jurisdiction: str = ""
    region: OptionalName = ""
    event_id: str = ""
    raw: LogPosition | None = None
    # Where a copy of the failing input's bytes was kept, and their hash.
    original_uri: str = ""
    content_sha256: str = ""
    occurred_at: datetime

    @classmethod
    def new(cls, *, stage: str, error: BaseException, source_uri: str, key: str,
            **fields: Any) -> DeadLetter:
        """`key` identifies the failing input (content hash, event id), so the same
        bad input dead-letters once however often it is retried."""
        return cls(
            dead_letter_id=derive_id("dead-letter", stage, source_uri, key),
            stage=stage,
            error_class=type(error).__name__,
            reason=str(error),
            source_uri=source_uri,
            occurred_at=utcnow(),
            **fields,
        )


def chunk_id(document_id: str, chunk_hash: str) -> str:
    return derive_id("chunk", document_id, chunk_hash)


def chunk_row_id(event_id: str, chunk_id: str) -> str:
    return derive_id("chunk-row", event_id, chunk_id)


def tombstone_id(event_id: str) -> str:
    return derive_id("tombstone", event_id)


def point_id(chunk_id: str, model_fingerprint: str) -> str:
    """A chunk's point for one model: the same content keeps its point across versions."""
    return derive_id("point", chunk_id, model_fingerprint)
