"""Erasure: a data subject's or a document's data removed from every projection,
with a receipt that lists what was removed where.

    1. the request is an event: delete events for the live documents it covers go
       through the pipeline, so the index loses their points (deletes.py);
    2. the raw and chunk lake files holding any version of those documents, any
       record naming the subject (subject index), or any record where the identifier
       is written in some spelling (rows landed before every field was redacted), are
       rewritten without those rows;
    3. their dead letters go, with the kept bytes of failed inputs, and so do kept
       bytes and dead letters that hold the identifier (never parsed, so unknown to
       the subject index);
    4. every index collection, of every model, loses any point of those documents and
       is rebuilt (compacted): a deleted point's payload otherwise lingers in old
       segments and the write-ahead log;
    5. the scan cache forgets those documents' files;
    6. the proof: every file under the data directory is searched for the identifier
       in the spellings that hide it (erasure_proof.py); the receipt lists the files
       that still hold it, and the erasure fails (ErasureIncompleteError) if any do;
    7. the erasure is recorded by keyed hash, a receipt is written, and both ends are
       audited; the receipt's digest is in the audit entry.

The delete events stay in the raw lake: they carry the document id, the subject's
keyed hash and the hash of the erased text, never the data, and they are what keeps
the erasure in force against later scans (`ingest.sources.held_back`).
Not reached: a Kafka cluster's own log segments (the embedded broker keeps nothing
on disk; on a real cluster, topic retention bounds how long events stay) and
backups outside the data directory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import posixpath
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from governance.contracts import utcnow
from governance.pii import subjects_in
from governance.privacy import tenant_key
from ingest import dead_letter_table, raw_table
from ingest.scancache import FileEntry, forget_documents
from ingest.tables import DEAD_LETTERS, RAW
from pipeline.deletes import DeleteRequest, DeleteRequestError, delete, subject_of
from pipeline.erasure_proof import Proof, Spellings, prove
from pipeline.errors import PipelineError
from pipeline.factory import Factory
from pipeline.scan import scan_cache_dir
from transforms.family_index import FamilyIndex
from transforms.tables import CHUNKS
from vectorstore.index import collection_name
from vectorstore.owner import HomeIndex
from vectorstore.sealed import bare

log = logging.getLogger(__name__)



class ErasureIncompleteError(PipelineError):
    """The proof found the subject still written in the data directory after erasure."""


@dataclass
class Receipt:
    """What an erasure removed, where. Names the subject by its keyed hash only."""

    request_id: str
    tenant: str
    subject: str
    document: str
    at: str
    documents: list[str] = field(default_factory=list)
    removed: dict[str, Any] = field(default_factory=dict)
    # What the removed rows had been billed for, per region: {"raw": {region: {"documents", "bytes"}},
    # "chunks": {region: n}}; `aifactory usage reconcile` adds it back to the lake's figures.
    metered: dict[str, Any] = field(default_factory=dict)
    proof: dict[str, Any] = field(default_factory=dict)  # see erasure_proof.Proof
    path: str = ""

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if k != "path"}, indent=2, sort_keys=True)


def _metered(factory: Factory, events: set[str]) -> dict[str, Any]:
    """The ledger's figures for the rows of `events` about to be removed (metering.py's rules:
    upserts only, text bytes), per region."""
    lake = factory.lake
    out: dict[str, Any] = {"raw": {}, "chunks": {}}
    specs = [s for s in (RAW, CHUNKS) if lake.files(s)]
    if not events or not specs:
        return out
    con = lake.connect(*specs)
    try:
        con.execute("CREATE TEMP TABLE gone (event_id VARCHAR)")
        con.executemany("INSERT INTO gone VALUES (?)", [[e] for e in sorted(events)])
        if RAW in specs:
            out["raw"] = {region: {"documents": n, "bytes": size} for region, n, size in con.execute(
                "SELECT region, count(*), sum(size)::BIGINT FROM (SELECT DISTINCT ON (event_id) region, "
                "strlen(text) AS size FROM raw WHERE op = 'upsert' AND event_id IN (SELECT event_id FROM gone)) "
                "GROUP BY 1").fetchall()}
        if CHUNKS in specs:
            out["chunks"] = dict(con.execute(
                "SELECT region, count(DISTINCT row_id) FROM chunks WHERE op = 'upsert' "
                "AND event_id IN (SELECT event_id FROM gone) GROUP BY 1").fetchall())
    finally:
        con.close()
    return out


def erase(factory: Factory, tenant: str, *, subject: str | None = None, document: str | None = None,
          who: str | None = None) -> Receipt:
    with factory.writing():  # one writer at a time (writer.py); the deletes inside are part of it
        return _erase(factory, tenant, subject=subject, document=document, who=who)


def _erase(factory: Factory, tenant: str, *, subject: str | None, document: str | None,
           who: str | None) -> Receipt:
    if (subject is None) == (document is None):
        raise DeleteRequestError("say what to erase: one of --subject IDENTIFIER or --document ID")
    key = subject_of(factory, tenant, subject) if subject is not None else ""
    spellings = Spellings(subject) if subject is not None else None
    scope: dict[str, Any] = {"subject": key} if key else {"document": document}
    affected = raw_table.upserts_naming(factory.lake, tenant, document or "", key)
    if document is not None and not affected:
        raise DeleteRequestError(f"tenant {tenant!r} has no document {document!r} in the raw lake; "
                                 "`aifactory status` lists tenants, search results name document ids")
    factory.audit.append("erase.request", tenant, who=who, **scope)

    done = None
    if key or raw_table.is_live(factory.lake, tenant, document or ""):
        done = delete(factory, DeleteRequest(tenant, document=document, subject=subject), who=who)
    request_id = done.request_id if done else "era-" + hashlib.sha256(
        f"{tenant}\x00{document}\x00{utcnow().isoformat()}".encode()).hexdigest()[:18]
    # After the deletes landed: a delete keeps the id it names, and one landed before ids
    # were redacted may hold the identifier too.
    written = raw_table.rows_holding(factory.lake, tenant, spellings.in_text) if spellings else []
    affected += sorted(set(written) - set(affected))
    receipt = Receipt(request_id, tenant, key, document or "", utcnow().isoformat())
    receipt.documents = sorted({r.document_id for r in affected} | set(done.documents if done else []))
    receipt.removed["index points deleted by the pipeline"] = done.points_deleted if done else 0
    receipt.removed["raw rows found where the subject is written"] = len(written)

    events = {r.event_id for r in affected}
    lake = factory.lake
    receipt.metered = _metered(factory, events)
    receipt.removed["raw lake rows"] = lake.remove_rows(RAW, "event_id", events)
    receipt.removed["chunk lake rows"] = lake.remove_rows(CHUNKS, "event_id", events)
    FamilyIndex(lake).refresh()  # drops the removed rows' document ids from the sync's cache of the lake
    rows, blobs = _dead_letters(factory, tenant, {r.source_uri for r in affected}, events, spellings, key)
    receipt.removed["dead-letter rows"], receipt.removed["dead-letter bytes"] = rows, blobs
    receipt.removed["index collections"] = _index(factory, tenant, set(receipt.documents))
    receipt.removed["scan cache entries"] = _scan_cache(factory, set(receipt.documents), spellings)
    if key:
        _record_erased(factory.settings.home, tenant, key, request_id)
    proof = prove(factory.settings.home, tenant, spellings, broker=_broker(factory), lake=factory.lake) \
        if spellings else None
    receipt.proof = proof.as_dict() if proof else {"broker": _broker(factory)}

    path = factory.settings.home / "governance" / "receipts" / f"{request_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(receipt.to_json())
    receipt.path = str(path)
    factory.audit.append("erase.done", tenant, who=who, request_id=request_id, documents=receipt.documents,
                         receipt_sha256=hashlib.sha256(receipt.to_json().encode()).hexdigest(),
                         complete=not (proof and proof.found), **scope)
    if proof and proof.found:
        raise ErasureIncompleteError(_incomplete(proof, factory.settings.home, receipt.path))
    return receipt


def _incomplete(proof: Proof, home: Path, receipt: str) -> str:
    shown = ", ".join(proof.found[:5]) + (f" and {len(proof.found) - 5} more" if len(proof.found) > 5 else "")
    return (f"erasure incomplete: the subject is still written in {len(proof.found)} file(s) under {home}: "
            f"{shown}; remove or rewrite them (they are outside what erasure manages), then run erase again; "
            f"receipt: {receipt}")


def _broker(factory: Factory) -> str:
    kafka = factory.settings.kafka
    if kafka.embedded:
        return "embedded broker: its events were held in memory only and are gone when this command ends"
    return (f"Kafka at {kafka.bootstrap_servers}: its topics keep the (redacted) events until their retention "
            "removes them; this erasure does not reach them")


def _dead_letters(factory: Factory, tenant: str, uris: set[str], events: set[str],
                  spellings: Spellings | None, key: str) -> tuple[dict[str, int], list[str]]:
    """Dead letters of the erased documents, of failed inputs whose kept bytes name the
    subject (in any spelling, or by subject key), and whose reason or URI holds the
    identifier; their kept bytes go too."""
    lake = factory.lake
    blobs = lake.blobs(tenant)
    digests = set()
    if spellings:
        hashing = tenant_key(factory.pii_secret, tenant)
        digests = {posixpath.basename(b.key) for b in blobs
                   if _names(lake.read_blob(b.key, tenant), spellings, key, hashing)}
    ids: set[str] = set()
    for letter in dead_letter_table.letters_of_tenant(lake, tenant):
        if letter.event_id in events or letter.source_uri in uris or letter.content_sha256 in digests or (
                spellings is not None
                and spellings.in_text(f"{letter.reason}\n{letter.source_uri}\n{letter.original_uri}")):
            ids.add(letter.dead_letter_id)
            digests |= {letter.content_sha256} if letter.content_sha256 else set()
    removed = []
    for blob in blobs:
        if posixpath.basename(blob.key) in digests and lake.remove(blob.key):
            removed.append(blob.key)
    return lake.remove_rows(DEAD_LETTERS, "dead_letter_id", ids), removed


def _names(data: bytes, spellings: Spellings, key: str, hashing: bytes) -> bool:
    """Whether kept bytes hold the identifier: in some spelling, or as any value the
    detectors read as the same subject."""
    return spellings.in_bytes(data) or (bool(key) and key in subjects_in(data.decode("utf-8", "replace"), hashing))


def _index(factory: Factory, tenant: str, documents: set[str]) -> dict[str, int]:
    """Every collection of the embedded index, of every model (reindexing keeps the
    old model's until --drop-old): the documents' points deleted, then rebuilt.
    Returns collection -> points deleted here (beyond the pipeline's deletes)."""
    factory.close()  # the compaction reopens the shards
    root = factory.settings.index_root
    if factory.settings.qdrant_server or not root.exists():
        return {}  # a Qdrant server vacuums deleted points itself
    models = {p.name.split("__", 2)[2] for p in root.iterdir() if p.is_dir() and p.name.count("__") == 2}
    removed: dict[str, int] = {}
    for model in sorted(models):
        index = factory.open_index(model, 0)  # through the index's owner, if another process has it open
        assert isinstance(bare(index), HomeIndex)  # the embedded index: a Qdrant server returned above
        try:
            for region in index.regions():
                stale = [h.id for h in index.points(region)
                         if h.payload.get("tenant") == tenant and h.payload.get("document_id") in documents]
                index.delete(region, stale)
                bare(index).compact(region)
                removed[collection_name(region, model)] = len(stale)
        finally:
            index.close()
    return removed


def _scan_cache(factory: Factory, documents: set[str], spellings: Spellings | None) -> int:
    """Forget the files that produced the erased documents, or whose cache entry holds the
    identifier (a path written before paths were redacted): the cache holds hashes and
    redacted paths only, but it must not vouch for content that is gone."""
    def gone(token: str, entry: FileEntry) -> bool:
        return any(doc in documents for doc, _ in entry.docs) or (
            spellings is not None and spellings.in_text(f"{token}\n{json.dumps(entry.to_json())}"))

    return forget_documents(scan_cache_dir(factory), gone)


def _record_erased(home: Path, tenant: str, key: str, request_id: str) -> None:
    path = home / "governance" / "erasures.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, (json.dumps({"tenant": tenant, "subject": key, "request_id": request_id,
                                  "at": utcnow().isoformat()}) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
