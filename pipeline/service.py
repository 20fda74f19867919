"""What the vector API needs beyond the index, built from the factory: documents
from the lake, deletes through the pipeline, lineage, usage, readiness, metering.

Deletes and documents sent from the API are durable before they are acknowledged:
the request is appended (fsync) to a journal under the data directory (documents
are staged first, see inbox.py), then one worker thread carries the requests out
through the pipeline, one at a time and in the order they came, since pipeline
runs do not overlap in one process. A request the server did not finish (it was
stopped) is carried out on the next start. A document has at most one pending
delete request: asked again, the backend answers with that one.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Collection
from dataclasses import asdict
from typing import Any

from governance.contracts import derive_id, utcnow
from governance.ledger import LedgerWriter, UsageEntry
from governance.quotas import QuotaBook
from governance.residency import ResidencyPolicy
from ingest import raw_table
from ingest.kafka import reachable
from ingest.limits import Limits
from pipeline.budget import Spend
from pipeline.deletes import DeleteRequest, DeleteRequestError, delete
from pipeline.factory import Factory
from pipeline.inbox import Inbox, append_ticket, public, read_tickets
from transforms import chunk_table
from vectorstore.embedder import Embedder
from vectorstore.index import VectorIndex

log = logging.getLogger(__name__)


class ApiBackend:
    def __init__(self, factory: Factory) -> None:
        self.factory = factory
        self.embedder: Embedder = factory.embedder
        self.index: VectorIndex = factory.index
        self.policy: ResidencyPolicy = factory.policy
        self.limits: Limits = factory.settings.limits
        self.quotas: QuotaBook = factory.quotas
        self.month_spend: Callable[[str], float] = Spend(factory)  # tenant -> cost this month, kept 30 s
        self.quarantined = factory.signals.totals
        self.meter_writer = LedgerWriter(factory.ledger)
        self.journal = factory.settings.home / "state" / "api-deletions.jsonl"
        self.inbox = Inbox(factory)
        self._tickets: dict[str, dict[str, Any]] = {}
        self._pending: dict[tuple[str, str], str] = {}  # (tenant, document id) -> its pending request
        self._lock = threading.Lock()
        self._todo: queue.Queue[tuple[str, str] | None] = queue.Queue()  # (kind, request id)
        unfinished = [("documents", t) for t in self.inbox.unfinished()]
        for ticket in read_tickets(self.journal):
            self._remember(ticket)
            if ticket["state"] == "pending":
                unfinished.append(("delete", ticket))
        for kind, ticket in sorted(unfinished, key=lambda u: u[1]["requested_at"]):  # in the order they came
            self._todo.put((kind, ticket["request_id"]))
        self._worker = threading.Thread(target=self._work, name="api-requests", daemon=True)
        self._worker.start()

    # --- documents -------------------------------------------------------------------------

    def document(self, tenant: str, document_id: str) -> dict[str, Any] | None:
        head = raw_table.document_head(self.factory.lake, tenant, document_id)
        if head is None:
            return None
        doc = asdict(head)
        doc["state"] = "live" if doc.pop("op") == "upsert" else "deleted"
        doc["chunks"] = chunk_table.upsert_chunks(self.factory.lake, head.event_id) if doc["state"] == "live" else 0
        doc["event_time"] = doc["event_time"].isoformat()
        doc["points"] = self.index.count(doc["region"], tenant=tenant, document_id=document_id)
        return doc

    def held_elsewhere(self, tenant: str, item_id: str) -> bool:
        """Whether another tenant holds document `item_id` (ids read `<tenant>:<name>`): a probe."""
        owner, sep, _ = item_id.partition(":")
        return bool(sep) and owner != tenant and raw_table.document_head(self.factory.lake, owner, item_id) is not None

    # --- deletes ---------------------------------------------------------------------------

    def delete_document(self, tenant: str, document_id: str, actor: str = "") -> dict[str, Any] | None:
        """A new delete request, or the one still pending for the document: a second request
        would find nothing left to delete once the first is done."""
        with self._lock:
            pending = self._pending.get((tenant, document_id))
            if pending is not None:
                return public(self._tickets[pending])
            now = utcnow().isoformat()
            request_id = "apidel-" + derive_id("api-delete", tenant, document_id, now)[:18]
            ticket = {"request_id": request_id, "tenant": tenant, "actor": actor, "document_id": document_id,
                      "state": "pending",
                      "detail": "", "points_deleted": 0, "requested_at": now, "completed_at": "",
                      "status_url": f"/v1/deletions/{request_id}"}
            self._write(ticket)
        self._todo.put(("delete", request_id))
        return public(ticket)

    def deletion(self, tenant: str, request_id: str) -> dict[str, Any] | None:
        with self._lock:
            ticket = self._tickets.get(request_id)
        return public(ticket) if ticket and ticket["tenant"] == tenant else None

    # --- documents sent (see inbox.py) -----------------------------------------------------

    def submit_documents(self, tenant: str, jurisdiction: str, documents: list[tuple[str, bytes]],
                         actor: str = "") -> dict[str, Any]:
        """Stage and journal the documents (fsync), then queue their run; the ticket to answer with."""
        ticket = self.inbox.submit(tenant, jurisdiction, documents, actor)
        self._todo.put(("documents", ticket["request_id"]))
        return ticket

    def ingestion(self, tenant: str, request_id: str) -> dict[str, Any] | None:
        return self.inbox.ticket(tenant, request_id)

    def _record(self, ticket: dict[str, Any]) -> None:
        with self._lock:
            self._write(ticket)

    def _write(self, ticket: dict[str, Any]) -> None:
        """Journal the ticket (fsync), then remember it; the caller holds the lock."""
        append_ticket(self.journal, ticket)
        self._remember(ticket)

    def _remember(self, ticket: dict[str, Any]) -> None:
        self._tickets[ticket["request_id"]] = dict(ticket)
        doc = (ticket["tenant"], ticket["document_id"])
        if ticket["state"] == "pending":
            self._pending[doc] = ticket["request_id"]
        elif self._pending.get(doc) == ticket["request_id"]:
            del self._pending[doc]

    def _work(self) -> None:
        while (item := self._todo.get()) is not None:
            kind, request_id = item
            if kind == "documents":
                self.inbox.carry_out(request_id)  # journals its own outcome, failed or not
            else:
                self._delete(request_id)

    def _delete(self, request_id: str) -> None:
        with self._lock:
            ticket = dict(self._tickets[request_id])
        try:
            ticket.update(self._carry_out(ticket))
        except Exception as exc:
            log.exception("delete %s failed", request_id)
            ticket.update(state="failed", detail=f"{type(exc).__name__}: {exc}; send the delete again")
        ticket["completed_at"] = utcnow().isoformat()
        self._record(ticket)

    def _carry_out(self, ticket: dict[str, Any]) -> dict[str, Any]:
        """The outcome of a delete request; a document deleted meanwhile (by another request,
        the CLI or its source) leaves nothing to do, which is done, not failed."""
        tenant, document_id = ticket["tenant"], ticket["document_id"]
        try:
            report = delete(self.factory, DeleteRequest(tenant, document=document_id), who=ticket.get("actor"))
        except DeleteRequestError:
            doc = self.document(tenant, document_id)
            if doc is not None and doc["state"] == "live":
                raise
            return {"state": "complete", "points_deleted": 0,
                    "detail": "the document was already deleted (by an earlier request, the CLI or its source); "
                              "nothing left to remove"}
        return {"state": "complete", "points_deleted": report.points_deleted,
                "detail": f"delete request {report.request_id}, run {report.run_id}"}

    # --- governance ------------------------------------------------------------------------

    def lineage(self, tenant: str, item_id: str, regions: Collection[str]) -> dict[str, Any] | None:
        from pipeline.lineage import trace  # lineage reads the whole lake; only this route needs it
        return trace(self.factory, tenant, item_id, regions)

    def usage(self, tenant: str | None, period: str) -> dict[str, Any] | None:
        from governance.pricing import load_price_book
        from pipeline.usage_report import PeriodError, UnknownTenantError, usage

        ledger = self.factory.ledger
        try:
            report = usage(ledger, load_price_book(self.factory.settings.price_book), period, tenant=tenant,
                           quotas=self.quotas)
        except UnknownTenantError:
            return None
        except PeriodError as exc:  # well formed, but no such day or week (2026-02-30, 2026-W54)
            raise ValueError(str(exc)) from None
        totals = ledger.totals()
        return {**report, "tenants": {t: v for t, v in totals.items() if tenant is None or t == tenant}}

    def meter(self, entry: UsageEntry) -> None:
        self.meter_writer.put(entry)

    def ready(self) -> dict[str, str]:
        checks = {}
        try:
            self.index.regions()
            checks["index"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            checks["index"] = f"unreachable ({type(exc).__name__})"
        kafka = self.factory.settings.kafka
        checks["broker"] = "ok" if kafka.embedded or reachable(kafka.bootstrap_servers) else \
            f"cannot reach {kafka.bootstrap_servers}"
        return checks

    def close(self) -> None:
        self._todo.put(None)
        self._worker.join(timeout=60)
        self.meter_writer.close()

