"""Deletes asked for by a person, not by the source: one document, every document
of a data subject, or every document of a tenant.

A request becomes one delete event per live document it covers, published like any
other event: the chunker turns each into a tombstone and the index sync removes the
document's points, so the same path serves file deletes, API deletes and erasure.
The events carry the request id (and, for a subject, the subject key), which the
next scan reads to hold the documents back (see `ingest.sources.held_back`).
"""

from __future__ import annotations

from dataclasses import dataclass

from governance.contracts import DocumentEvent, derive_id, utcnow
from governance.pii import identify
from governance.privacy import tenant_key
from ingest import raw_table
from pipeline.errors import PipelineError
from pipeline.factory import Factory
from pipeline.runner import run


class DeleteRequestError(PipelineError):
    """A delete request that names nothing to delete, or names it badly."""


@dataclass(frozen=True)
class DeleteRequest:
    """Exactly one of document, subject or all_documents. The subject is held in
    memory only; what is stored and published is its keyed hash."""

    tenant: str
    document: str | None = None
    subject: str | None = None
    all_documents: bool = False

    def __post_init__(self) -> None:
        if sum((self.document is not None, self.subject is not None, self.all_documents)) != 1:
            raise DeleteRequestError("say what to delete: one of --document ID, --subject IDENTIFIER "
                                     "or --all-documents (every document of the tenant)")


def subject_of(factory: Factory, tenant: str, identifier: str) -> str:
    try:
        return identify(identifier, tenant_key(factory.pii_secret, tenant))
    except ValueError as exc:
        raise DeleteRequestError(str(exc)) from exc


def delete_events(factory: Factory, request: DeleteRequest) -> tuple[str, list[DocumentEvent]]:
    """The request id and one delete event per live document the request covers."""
    subject = subject_of(factory, request.tenant, request.subject) if request.subject else ""
    live = raw_table.live_documents(factory.lake, request.tenant)
    if request.document is not None:
        live = [d for d in live if d.document_id == request.document]
        if not live:
            raise DeleteRequestError(f"tenant {request.tenant!r} has no live document {request.document!r}; "
                                     "`aifactory status` lists tenants, search results name document ids")
    elif subject:
        live = [d for d in live if subject in d.subjects]
    now = utcnow()
    request_id = "del-" + derive_id("delete-request", request.tenant, request.document or subject or "*",
                                    now.isoformat())[:18]
    # The delete carries the hash of the text it deletes: the hold on an unchanged
    # source survives erasure, which removes the upserts themselves.
    events = [DocumentEvent.new(
        op="delete", tenant=request.tenant, document_id=d.document_id, version=d.version + 1,
        jurisdiction=d.jurisdiction, region=d.region, source_uri=d.source_uri,
        source_root=d.source_root, requested=request_id, subjects=[subject] if subject else [],
        event_time=now).model_copy(update={"content_hash": d.content_hash}) for d in live]
    return request_id, events


@dataclass(frozen=True)
class DeleteReport:
    request_id: str
    documents: list[str]
    points_deleted: int
    run_id: str


def delete(factory: Factory, request: DeleteRequest, *, who: str | None = None) -> DeleteReport:
    """Carry out a delete request through the pipeline; returns once the lake and
    the index no longer hold the documents. The audit log records the request and
    its outcome, naming a subject by its keyed hash only."""
    request_id, events = delete_events(factory, request)
    subject = events[0].subjects[0] if events and events[0].subjects else \
        (subject_of(factory, request.tenant, request.subject) if request.subject else "")
    scope = {"document": request.document} if request.document else \
        ({"subject": subject} if subject else {"all_documents": True})
    factory.audit.append("delete.request", request.tenant, who=who, request_id=request_id, **scope,
                         documents=[e.document_id for e in events])
    if not events:
        return DeleteReport(request_id, [], 0, "")
    report = run(factory, [], requests=events)
    result = DeleteReport(request_id, [e.document_id for e in events],
                          report.index.deleted if report.index else 0, report.run_id)
    factory.audit.append("delete.done", request.tenant, who=who, request_id=request_id, run_id=report.run_id,
                         points_deleted=result.points_deleted)
    return result
