"""The pure heart of the transform agent: one document event in, chunk records out."""

from __future__ import annotations

from typing import Any

from governance.contracts import ChunkRecord, DocumentEvent, LogPosition, chunk_id, content_hash, tombstone_id
from transforms.chunking import CHUNKER_VERSION, chunk, normalise


class EmptyDocumentError(ValueError):
    """The document has no text left after normalisation."""


def to_chunks(event: DocumentEvent, at: LogPosition) -> list[ChunkRecord]:
    """Chunks of an upsert, or one tombstone for a delete. `at` is where the event
    was read; a republished event keeps its first position (`origin`)."""
    raw = event.origin or at
    common: dict[str, Any] = {
        "event_id": event.event_id, "tenant": event.tenant, "jurisdiction": event.jurisdiction,
        "region": event.region, "document_id": event.document_id, "version": event.version,
        "title": event.title, "source_uri": event.source_uri, "event_time": event.event_time,
        "raw": raw, "chunker": CHUNKER_VERSION,
    }
    if event.op == "delete":
        return [ChunkRecord(chunk_id=tombstone_id(event.event_id), op="delete", chunk_no=0,
                            chunk_count=0, text="", content_hash="", **common)]
    pieces = chunk(normalise(event.text))
    if not pieces:
        raise EmptyDocumentError(
            f"document {event.document_id} v{event.version} ({event.source_uri}) has no text after "
            "normalisation; check the source file"
        )
    return [
        ChunkRecord(chunk_id=chunk_id(event.document_id, event.version, n), op="upsert", chunk_no=n,
                    chunk_count=len(pieces), text=piece, content_hash=content_hash(piece), **common)
        for n, piece in enumerate(pieces)
    ]
