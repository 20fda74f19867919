"""`aifactory usage reconcile`: the usage ledger held against what it bills for, per
tenant (and region where the source knows it):

    documents, bytes   ingest entries        = upsert events in the raw lake + those erased since
    chunks             chunking entries      = upsert chunk rows in the lake + those erased since
                       (from the last `replay`, which rebuilt the chunks and chunked them again)
    vectors            last storage snapshot = points in the index
    queries            query entries         = 200 answers of /v1/search and /v1/rag/context in the
                                               API's request log, request by request
    egress             egress entries' bytes = bytes of the 200 answers to tenant keys in the request log

Embedding is not held to a present state: an edit embeds again what it changed, and each
batch's entry is its own record (texts, tokens, device seconds). Ledger entries from
before requests carried an id are counted apart and named. A check that fails names
both figures and where to look; the command exits 1.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ingest.tables import RAW
from pipeline.factory import Factory
from pipeline.runlineage import lineage_file
from transforms.tables import CHUNKS
from vectorstore.api.middleware import RequestLog

QUERY_ROUTES = ("/v1/search", "/v1/rag/context")


def request_log_path(home: Path) -> Path:
    """The API's request log: one JSON line per answered request (vectorstore/api/middleware.py)."""
    return home / "logs" / "api-requests.jsonl"


@dataclass(frozen=True)
class Check:
    what: str  # documents, bytes, chunks, vectors, queries
    tenant: str
    region: str  # "" where the source does not know regions (the request log)
    ledger: int
    source: int
    source_name: str
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.ledger == self.source


def reconcile(factory: Factory) -> list[Check]:
    """Every check, by what, tenant and region."""
    entries = list(factory.ledger.entries())
    home = factory.settings.home
    replayed = last_replay(home)
    erased = erased_since(home, replayed)
    checks = _lake_checks(factory, entries, erased, replayed)
    checks += _storage_checks(factory, entries)
    checks += _query_checks(home, entries)
    return sorted(checks, key=lambda c: (c.what, c.tenant, c.region))


def _lake_checks(factory: Factory, entries: list[Any], erased: dict[tuple[str, str, str], int],
                 replayed: datetime | None) -> list[Check]:
    ledger: dict[tuple[str, str, str], int] = defaultdict(int)
    for e in entries:
        if e.event == "ingest":
            ledger[("documents", e.tenant, e.region)] += e.documents
            ledger[("bytes", e.tenant, e.region)] += e.bytes
        elif e.event == "chunking" and (replayed is None or e.at >= replayed):
            ledger[("chunks", e.tenant, e.region)] += e.chunks
    lake: dict[tuple[str, str, str], int] = defaultdict(int)
    con = factory.lake.connect(*(s for s in (RAW, CHUNKS) if factory.lake.files(s)))
    try:
        if factory.lake.files(RAW):
            for tenant, region, docs, size in con.execute(
                    "SELECT tenant, region, count(*), sum(size)::BIGINT FROM (SELECT DISTINCT ON (event_id) "
                    "tenant, region, strlen(text) AS size FROM raw WHERE op = 'upsert') GROUP BY 1, 2").fetchall():
                lake[("documents", tenant, region)] += docs
                lake[("bytes", tenant, region)] += size
        if factory.lake.files(CHUNKS):
            for tenant, region, n in con.execute(
                    "SELECT tenant, region, count(DISTINCT row_id) FROM chunks WHERE op = 'upsert' "
                    "GROUP BY 1, 2").fetchall():
                lake[("chunks", tenant, region)] += n
    finally:
        con.close()
    where = {"documents": "raw lake upserts", "bytes": "raw lake text bytes", "chunks": "chunk lake upserts"}
    out = []
    for key in sorted(set(ledger) | set(lake) | set(erased)):
        what, tenant, region = key
        gone = erased.get(key, 0)
        out.append(Check(what, tenant, region, ledger.get(key, 0), lake.get(key, 0) + gone, where[what],
                         f"{gone} erased" if gone else ""))
    return out


def _storage_checks(factory: Factory, entries: list[Any]) -> list[Check]:
    latest: dict[tuple[str, str], int] = {}
    for e in entries:
        if e.event == "storage":
            latest[(e.tenant, e.region)] = e.vectors
    index = factory.index_without_model()
    points: dict[tuple[str, str], int] = defaultdict(int)
    if index is not None:
        for region in index.regions():
            for hit in index.points(region):
                points[(str(hit.payload.get("tenant")), region)] += 1
    return [Check("vectors", t, r, latest.get((t, r), 0), points.get((t, r), 0), "index points",
                  "the last storage snapshot")
            for t, r in sorted(set(latest) | set(points)) if latest.get((t, r), 0) or points.get((t, r), 0)]


def _query_checks(home: Path, entries: list[Any]) -> list[Check]:
    billed: dict[str, set[str]] = defaultdict(set)
    untagged: dict[str, int] = defaultdict(int)
    for e in entries:
        if e.event == "query":
            if e.request_id:
                billed[e.tenant].add(e.request_id)
            else:
                untagged[e.tenant] += e.queries
    served: dict[str, set[str]] = defaultdict(set)
    sent: dict[str, int] = defaultdict(int)
    for r in RequestLog(request_log_path(home)).entries():
        if r.get("status") == 200 and r.get("tenant") not in (None, "", "*"):
            sent[str(r["tenant"])] += int(r.get("bytes") or 0)
        if r.get("route") in QUERY_ROUTES and r.get("status") == 200 and r.get("tenant"):
            served[str(r["tenant"])].add(str(r.get("request_id")))
    egress: dict[str, int] = defaultdict(int)
    for e in entries:
        if e.event == "egress":
            egress[e.tenant] += e.bytes
    out = []
    for tenant in sorted(set(billed) | set(served)):
        unbilled, unserved = served[tenant] - billed[tenant], billed[tenant] - served[tenant]
        note = "; ".join(filter(None, [
            f"{len(unbilled)} answered but not billed (e.g. {sorted(unbilled)[0]})" if unbilled else "",
            f"{len(unserved)} billed without an answer in the log (e.g. {sorted(unserved)[0]})" if unserved else "",
            f"{untagged[tenant]} older entries without a request id not counted" if untagged[tenant] else ""]))
        out.append(Check("queries", tenant, "", len(billed[tenant]), len(served[tenant]), "API request log",
                         note if unbilled or unserved else note or "request ids match one to one"))
    out += [Check("egress", t, "", egress.get(t, 0), sent.get(t, 0), "API request log bytes", "bytes answered")
            for t in sorted(set(egress) | set(sent))]
    return out


def last_replay(home: Path) -> datetime | None:
    """When the last `aifactory replay` started (its lineage START), if one ever ran."""
    started = None
    try:
        with lineage_file(home).open("rb") as fh:
            for line in fh:
                if b'"aifactory.replay"' not in line:
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if event.get("eventType") == "START" and (event.get("job") or {}).get("name") == "aifactory.replay":
                    started = datetime.fromisoformat(event["eventTime"])
    except FileNotFoundError:
        return None
    return started


def erased_since(home: Path, since: datetime | None) -> dict[tuple[str, str, str], int]:
    """What erasures removed from the lake that had been metered, by (what, tenant, region):
    from each receipt's `metered` counts (chunks only for erasures after the last replay)."""
    out: dict[tuple[str, str, str], int] = defaultdict(int)
    for path in sorted((home / "governance" / "receipts").glob("*.json")):
        try:
            receipt = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        metered = receipt.get("metered") or {}
        tenant = receipt.get("tenant", "")
        for region, n in (metered.get("raw") or {}).items():
            out[("documents", tenant, region)] += int(n.get("documents", 0))
            out[("bytes", tenant, region)] += int(n.get("bytes", 0))
        if since is None or datetime.fromisoformat(receipt.get("at", "1970-01-01T00:00:00+00:00")) >= since:
            for region, n in (metered.get("chunks") or {}).items():
                out[("chunks", tenant, region)] += int(n)
    return dict(out)


def as_table(checks: list[Check]) -> str:
    head = f"{'check':<10}{'tenant':<14}{'region':<13}{'ledger':>12}{'source':>12}  {'':<4}against"
    rows = [f"{c.what:<10}{c.tenant:<14}{c.region or '-':<13}{c.ledger:>12}{c.source:>12}  "
            f"{'ok' if c.ok else 'DIFF':<4}{c.source_name}" + (f" ({c.note})" if c.note else "") for c in checks]
    bad = sum(not c.ok for c in checks)
    tail = f"{len(checks)} checks, all hold" if not bad else f"{bad} of {len(checks)} checks differ"
    return "\n".join([head, *rows, tail])


def as_dicts(checks: list[Check]) -> list[dict[str, Any]]:
    return [{**asdict(c), "ok": c.ok} for c in checks]
