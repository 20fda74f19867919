"""Documents sent through the API (`POST /v1/documents`), on the same path as a folder's.

    request --> staged   <home>/inbox/<tenant>/<request_id>/<name>    (fsync each file)
            --> ticket journalled (fsync), then the API answers 202
    worker  --> each file copied (fsync) into the tenant's API folder <home>/api-sources/<tenant>/<name>
            --> runner.run(factory, [Source(that folder, tenant, jurisdiction, files=the names)])
            --> the outcome journalled, the staging folder removed

The API folder is the tenant's one source root for every request, so a document's id is
`<tenant>:<name>` whichever request sent it: sending `report.txt` again is a new version
of the same document, as editing a file in a watched folder is (the same text again is
`unchanged`). The scan is narrowed to the names sent, so a request never deletes
documents it does not name. Each request is staged apart, so two requests for one
name are carried out in the order they were accepted, each with its own bytes.

A ticket is pending, running, complete or failed. One pending or running when the
server stopped is carried out again on the next start: the scan publishes only what
the raw lake does not hold yet, so a run cut short is finished, not repeated.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from governance.contracts import utcnow
from governance.privacy import redact_identifier, tenant_key
from ingest import dead_letter_table, raw_table
from ingest.lake_store import write_bytes_durable
from ingest.sources import Source, document_id, file_uri
from pipeline import runner
from pipeline.errors import PipelineError
from pipeline.factory import Factory
from transforms import chunk_table

log = logging.getLogger(__name__)

UNFINISHED = ("pending", "running")


class InboxError(PipelineError):
    """A document name that would leave the inbox (the API refuses those before)."""


def append_ticket(path: Path, ticket: dict[str, Any]) -> None:
    """Append a ticket to a journal, one JSON line, and fsync it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, (json.dumps(ticket) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_tickets(path: Path) -> list[dict[str, Any]]:
    """The latest state of each request in a journal (its last line wins)."""
    if not path.exists():
        return []
    latest: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            ticket = json.loads(line)
            latest[ticket["request_id"]] = ticket
    return list(latest.values())


def public(ticket: dict[str, Any]) -> dict[str, Any]:
    """A ticket as its client sees it: without the tenant and the actor."""
    return {k: v for k, v in ticket.items() if k not in ("tenant", "actor")}


def within(folder: Path, name: str) -> Path:
    """`folder/name`, refused when the name would lead out of the folder."""
    path = folder / name
    if not path.resolve().is_relative_to(folder.resolve()) or Path(name).is_absolute():
        raise InboxError(f"document name {name!r} leads out of {folder}; send a relative path such as 'a/b.txt'")
    return path


class Inbox:
    """The journal and the staging folders of document requests; `carry_out` runs one.
    Not a thread: the API backend's worker calls `carry_out`, one request at a time."""

    def __init__(self, factory: Factory) -> None:
        self.factory = factory
        home = factory.settings.home
        self.journal = home / "state" / "api-documents.jsonl"
        self.staging = home / "inbox"
        self.sources = home / "api-sources"
        self._lock = threading.Lock()
        self._tickets = {t["request_id"]: t for t in read_tickets(self.journal)}
        for ticket in self._tickets.values():
            if ticket["state"] not in UNFINISHED:  # stopped after its outcome, before the clean-up
                shutil.rmtree(self._staged(ticket), ignore_errors=True)

    def unfinished(self) -> list[dict[str, Any]]:
        """Requests not carried out yet, oldest first."""
        with self._lock:
            return sorted(
                (dict(t) for t in self._tickets.values() if t["state"] in UNFINISHED), key=lambda t: t["requested_at"]
            )

    def submit(
        self, tenant: str, jurisdiction: str, documents: Sequence[tuple[str, bytes]], actor: str = ""
    ) -> dict[str, Any]:
        """Stage the documents and journal the request, both durably; the ticket to answer with.
        The document ids are the files' (a CSV, JSON or archive adds `#part`s once scanned)."""
        request_id = "apidoc-" + uuid.uuid4().hex[:18]
        ticket: dict[str, Any] = {
            "request_id": request_id,
            "tenant": tenant,
            "actor": actor,
            "jurisdiction": jurisdiction,
            "state": "pending",
            "detail": "",
            "run_id": "",
            "documents": [
                {
                    "name": name,
                    "document_id": self.document_id(tenant, name),
                    "state": "pending",
                    "reason": "",
                    "events": [],
                }
                for name, _ in documents
            ],
            "published": 0,
            "unchanged": 0,
            "held": 0,
            "dead_lettered": 0,
            "chunks": 0,
            "event_ids": [],
            "requested_at": utcnow().isoformat(),
            "started_at": "",
            "completed_at": "",
            "status_url": f"/v1/ingestions/{request_id}",
        }
        staged = self._staged(ticket)
        try:
            for name, data in documents:
                write_bytes_durable(data, within(staged, name))
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        self._record(ticket)
        self.factory.audit.append(
            "documents.request",
            tenant,
            who=actor or None,
            request_id=request_id,
            documents=[d["document_id"] for d in ticket["documents"]],
        )
        return public(ticket)

    def ticket(self, tenant: str, request_id: str) -> dict[str, Any] | None:
        with self._lock:
            ticket = self._tickets.get(request_id)
        return public(ticket) if ticket and ticket["tenant"] == tenant else None

    def document_id(self, tenant: str, name: str) -> str:
        """The id the scan gives the file `name` of the tenant's API folder (personal data hashed)."""
        return document_id(tenant, redact_identifier(name, tenant_key(self.factory.pii_secret, tenant)).text, "")

    def carry_out(self, request_id: str) -> None:
        """Run the request through the pipeline and journal its outcome; a failure is recorded, not raised."""
        with self._lock:
            ticket = dict(self._tickets[request_id])
        ticket.update(state="running", started_at=utcnow().isoformat())
        self._record(ticket)
        try:
            ticket.update(self._run(ticket), state="complete")
        except Exception as exc:
            log.exception("document request %s failed", request_id)
            ticket.update(state="failed", detail=f"{type(exc).__name__}: {exc}; send the documents again")
        ticket["completed_at"] = utcnow().isoformat()
        self._record(ticket)
        self.factory.audit.append(
            "documents.done",
            ticket["tenant"],
            who=ticket["actor"] or None,
            request_id=request_id,
            state=ticket["state"],
            run_id=ticket["run_id"],
            event_ids=ticket["event_ids"],
        )
        shutil.rmtree(self._staged(ticket), ignore_errors=True)

    def _run(self, ticket: dict[str, Any]) -> dict[str, Any]:
        tenant, staged = ticket["tenant"], self._staged(ticket)
        root = self.sources / tenant
        names = tuple(d["name"] for d in ticket["documents"])
        for name in names:
            write_bytes_durable(within(staged, name).read_bytes(), within(root, name))
        report = runner.run(self.factory, [Source(root, tenant, ticket["jurisdiction"], files=names)])
        return {"run_id": report.run_id, **self._outcome(ticket, root, report)}

    def _outcome(self, ticket: dict[str, Any], root: Path, report: runner.RunReport) -> dict[str, Any]:
        """Per file sent: published (with its events), unchanged (with the events that serve it),
        held (a delete request holds it back) or dead-lettered (with the reason)."""
        scanned = report.ingest[0]
        tenant, root = ticket["tenant"], root.resolve()
        letters = {d.source_uri: d.reason for d in scanned.dead_letters}
        lake = self.factory.lake
        latest = {d["document_id"]: raw_table.file_documents(lake, tenant, d["document_id"])
                  for d in ticket["documents"]}
        ids = [e.event_id for e in scanned.published] + [r.event_id for rows in latest.values() for r in rows]
        chunks = chunk_table.chunks_of_events(lake, ids)
        failed = dead_letter_table.reasons_of_events(lake, ids)
        docs = []
        for sent in ticket["documents"]:
            base = sent["document_id"]
            mine = [
                event_row(e.document_id, e.version, e.op, e.event_id, chunks, failed)
                for e in scanned.published
                if e.document_id == base or e.document_id.startswith(base + "#")
            ]
            serving = [event_row(r.document_id, r.version, r.op, r.event_id, chunks, failed)
                       for r in latest[base] if r.op == "upsert"]
            docs.append(
                file_outcome(
                    sent,
                    letters.get(file_uri(root, base.split(":", 1)[1])),
                    mine,
                    serving,
                    held=bool(latest[base]) and not serving,
                )
            )
        new = [d for d in docs if d["state"] != "unchanged"]
        return {
            "documents": docs,
            "event_ids": [e["event_id"] for d in new for e in d["events"]],
            "chunks": sum(e["chunks"] for d in new for e in d["events"]),
            **{
                state: sum(d["state"] == state for d in docs)
                for state in ("published", "unchanged", "held", "dead_lettered")
            },
        }

    def _staged(self, ticket: dict[str, Any]) -> Path:
        return self.staging / ticket["tenant"] / ticket["request_id"]

    def _record(self, ticket: dict[str, Any]) -> None:
        with self._lock:
            append_ticket(self.journal, ticket)
            self._tickets[ticket["request_id"]] = dict(ticket)


def event_row(
    doc: str, version: int, op: str, event_id: str, chunks: dict[str, int], failed: dict[str, str]
) -> dict[str, Any]:
    return {
        "document_id": doc,
        "event_id": event_id,
        "version": version,
        "op": op,
        "chunks": int(chunks.get(event_id, 0)),
        "reason": failed.get(event_id, ""),
    }


def file_outcome(
    sent: dict[str, Any], letter: str | None, mine: list[dict[str, Any]], serving: list[dict[str, Any]], *, held: bool
) -> dict[str, Any]:
    """What became of one file sent: `letter` is its dead letter's reason, `mine` the events this
    request published for it, `serving` the live versions of its documents now."""
    out = {**sent, "reason": "", "events": mine}
    if letter is not None:
        return {**out, "state": "dead_lettered", "reason": letter}
    if mine:
        reasons = [e["reason"] for e in mine if e["reason"]]
        if len(reasons) == len(mine):  # every event of the file failed in the transforms
            return {**out, "state": "dead_lettered", "reason": "; ".join(reasons)}
        return {**out, "state": "published"}
    if held:
        return {
            **out,
            "state": "held",
            "reason": "held back by a delete request (the document was deleted on "
            "request with this text, or it names an erased data subject); send changed text to make it live",
        }
    return {
        **out,
        "state": "unchanged",
        "events": serving,
        "reason": "the same text as the version now live; nothing new was published"
        if serving
        else "the file holds no document (no records or entries)",
    }
