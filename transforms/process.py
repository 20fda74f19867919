"""The pure heart of the transform agent: one document event in, chunk records out.

    redact -> normalise -> chunk -> screen -> tag

Redaction runs again here (it is idempotent) because events can enter the topic
from producers other than our sources. Each chunk is screened for prompt
injection as it was written, invisible characters included, and stored without
them; above the threshold it is quarantined from default retrieval.
"""

from __future__ import annotations

from typing import Any

from governance.contracts import (
    ChunkRecord,
    DocumentEvent,
    LogPosition,
    chunk_id,
    chunk_row_id,
    content_hash,
    tombstone_id,
)
from governance.pii import count_placeholders
from governance.privacy import PrivacyPolicy, apply_privacy
from transforms.chunking import CHUNKER_VERSION, chunk, normalise, strip_invisible
from transforms.dedup import reader_key, simhash
from transforms.errors import TransformError
from transforms.injection import DEFAULT_THRESHOLD, screen, screener_version
from transforms.tokens import TokenCounter


class EmptyDocumentError(TransformError, ValueError):
    """The document has no text left after normalisation."""


def to_chunks(event: DocumentEvent, at: LogPosition, counter: TokenCounter, *,
              privacy: PrivacyPolicy | None = None, secret: bytes = b"",
              threshold: float = DEFAULT_THRESHOLD, learned: bool = True) -> list[ChunkRecord]:
    """Chunks of an upsert, or one tombstone for a delete. `at` is where the event
    was read; a republished event keeps its first position (`origin`). `learned`: the
    screener's learned model beside its rules."""
    # First: the ids and URI every record below copies are redacted too.
    event = apply_privacy(event, privacy or PrivacyPolicy(), secret)
    raw = event.origin or at
    common: dict[str, Any] = {
        "event_id": event.event_id, "tenant": event.tenant, "jurisdiction": event.jurisdiction,
        "region": event.region, "document_id": event.document_id, "version": event.version,
        "source_uri": event.source_uri, "event_time": event.event_time, "raw": raw,
        "chunker": CHUNKER_VERSION, "screener": screener_version(learned),
    }
    if event.op == "delete":
        tomb = tombstone_id(event.event_id)
        return [ChunkRecord(row_id=tomb, chunk_id=tomb, op="delete", chunk_no=0, chunk_count=0, text="",
                            content_hash="", title=event.title, **common)]
    title = strip_invisible(normalise(event.title))
    kept: list[dict[str, Any]] = []
    seen: set[str] = set()
    for piece in chunk(normalise(event.text), counter):
        verdict = screen(piece.text, learned=learned)
        text = strip_invisible(piece.text).strip()
        digest = content_hash(text)
        if not text or digest in seen:
            continue  # an exact repeat within the document is recorded once
        seen.add(digest)
        kept.append({"text": text, "content_hash": digest, "section": piece.section, "page": piece.page,
                     "token_count": piece.tokens, "simhash": f"{simhash(text):016x}", "reader_key": reader_key(text),
                     "pii": count_placeholders(text),
                     "quarantined": verdict.quarantined(threshold), "screening_score": round(verdict.score, 4),
                     "screening_reasons": list(verdict.reasons)})
    if not kept:
        raise EmptyDocumentError(
            f"document {event.document_id} v{event.version} ({event.source_uri}) has no text after "
            "normalisation; check the source file"
        )
    records = []
    for n, fields in enumerate(kept):
        cid = chunk_id(event.document_id, fields["content_hash"])
        records.append(ChunkRecord(row_id=chunk_row_id(event.event_id, cid), chunk_id=cid, op="upsert",
                                   chunk_no=n, chunk_count=len(kept), title=title, **fields, **common))
    return records
