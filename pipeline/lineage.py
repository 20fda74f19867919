"""Record-level lineage: from a point or a document, back to the source and forward
to what was derived from it. Every step names where it sits: the Kafka position of
the event, the lake file and row of each record, the index collection of each point.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection
from typing import Any

from governance.contracts import point_id
from ingest import raw_table
from ingest.lake_reads import LocatedRow
from pipeline.factory import Factory
from transforms import chunk_table
from vectorstore.index import Hit


def _as_json(rows: list[LocatedRow]) -> list[dict[str, Any]]:
    """Located lake rows as a trace shows them: their columns, then the file and row each sits at."""
    out = []
    for r in rows:
        row = {**r.values, "lake_file": r.lake_file, "lake_row": r.lake_row}
        out.append({k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()})
    return out


def trace(factory: Factory, tenant: str | None, item_id: str,
          regions: Collection[str] | None = None) -> dict[str, Any] | None:
    """The lineage of a document id or a point id of `tenant` (any tenant when None:
    the operator's view), or None. With `regions` (an API key's), an item with anything
    outside them is None too, as if it did not exist."""
    found = _document(factory, tenant, item_id)
    if found is not None:
        # All or nothing: a partial history would still tell that the rest exists elsewhere.
        inside = regions is None or {v["region"] for v in found["versions"]} <= set(regions)
        return found if inside else None
    lake, index = factory.lake, factory.index_without_model()  # a trace reads: no model to load
    if index is None:
        return None
    for region in index.regions():
        if regions is not None and region not in regions:
            continue
        hits = index.retrieve(region, [item_id]) if _is_uuid(item_id) else []
        if hits and tenant in (None, hits[0].payload.get("tenant")):
            p = hits[0].payload
            chunk_rows = _as_json(chunk_table.locate_chunk(lake, p["row_id"]))
            event_rows = _as_json(raw_table.locate_event(lake, p["event_id"]))
            return {"kind": "point", "tenant": p["tenant"], "point_id": item_id, "region": region,
                    "model": p.get("model"), "run_id": p.get("run_id", ""), "document_id": p["document_id"],
                    "version": p["version"], "chunker": p.get("chunker"), "screener": p.get("screener"),
                    "source_uri": p["source_uri"], "chunk": chunk_rows[0] if chunk_rows else None,
                    "event": event_rows[0] if event_rows else None, "duplicates": p.get("duplicates", [])}
    return None


def _document(factory: Factory, tenant: str | None, document_id: str) -> dict[str, Any] | None:
    """Every version of a document, oldest first, each with its chunks and their points.

    The lake keeps what the index forgets: the chunks of a replaced or deleted version
    stay in the chunks lake, and a delete leaves its event in the raw lake and a
    tombstone in the chunks lake. So a deleted document still shows what it was,
    where each piece sat, and which event removed it. `chunks` is what is live now:
    the latest version's chunks, none once the document is deleted."""
    lake, index = factory.lake, factory.index_without_model()
    events = _as_json(raw_table.document_events(lake, document_id, tenant))
    if not events:
        return None
    events.sort(key=lambda e: e["version"])
    chunks: dict[str, list[dict[str, Any]]] = defaultdict(list)  # event id -> its upsert chunks
    tombstones: dict[str, dict[str, Any]] = {}  # event id -> the tombstone its delete left
    seen: set[str] = set()
    for c in _as_json(chunk_table.document_chunks(lake, document_id, tenant)):
        if c["row_id"] in seen:
            continue  # a replayed row: the same key, the same record
        seen.add(c["row_id"])
        if c.pop("op") == "delete":
            tombstones[c["event_id"]] = c
        else:
            chunks[c["event_id"]].append(c)
    live = _live_points(factory, events, chunks)
    model = index.model_id if index is not None else ""
    # The points each version wanted: a point goes with the first later version that lacks it.
    wanted = {e["event_id"]: {point_id(c["chunk_id"], model) for c in chunks.get(e["event_id"], [])}
              for e in events}
    latest = events[-1]
    for i, event in enumerate(events):
        after = events[i + 1] if i + 1 < len(events) else None
        event["ended_by"] = _summary(after) if after else None
        if event["op"] == "delete":
            event["state"] = "delete"
            event["tombstone"] = tombstones.get(event["event_id"])
            continue
        event["state"] = "live" if after is None else ("deleted" if after["op"] == "delete" else "superseded")
        event["chunks"] = sorted(chunks.get(event["event_id"], []), key=lambda c: c["chunk_no"])
        for c in event["chunks"]:
            pid = point_id(c["chunk_id"], model)
            hit = live.get(pid)
            point = {"point_id": pid, "region": event["region"], "model": model}
            if event["state"] == "live":
                # Not in the index: folded into a duplicate's point (or not synced yet).
                c["point"] = {**point, "run_id": hit.payload.get("run_id", ""), "state": "live"} if hit else None
            elif hit:
                c["point"] = {**point, "state": "live"}  # unchanged text keeps its point into later versions
            else:
                end = next((e for e in events[i + 1:] if e["op"] == "delete" or pid not in wanted[e["event_id"]]),
                           None)  # None: every later version kept it, yet it is not indexed (folded)
                c["point"] = {**point, "state": "removed",
                              "removed_by": {k: end[k] for k in ("event_id", "op", "version")}} if end else None
    deleted = latest["op"] == "delete"
    return {"kind": "document", "tenant": latest["tenant"], "document_id": document_id,
            "source_uri": latest["source_uri"], "state": "deleted" if deleted else "live",
            "deleted": _deletion(events) if deleted else None, "versions": events,
            "chunks": [] if deleted else latest["chunks"]}


def _live_points(factory: Factory, events: list[dict[str, Any]],
                 chunks: dict[str, list[dict[str, Any]]]) -> dict[str, Hit]:
    """The points of any version's chunks that the index still holds."""
    index = factory.index_without_model()
    if index is None:
        return {}
    wanted: dict[str, set[str]] = defaultdict(set)
    for e in events:
        for c in chunks.get(e["event_id"], []):
            wanted[e["region"]].add(point_id(c["chunk_id"], index.model_id))
    regions = set(index.regions())
    return {h.id: h for region, ids in wanted.items() if region in regions
            for h in index.retrieve(region, sorted(ids))}


def _summary(event: dict[str, Any]) -> dict[str, Any]:
    keys = ("event_id", "op", "version", "event_time", "requested", "run_id", "log_topic", "log_partition",
            "log_offset", "lake_file", "lake_row")
    return {k: event.get(k) for k in keys}


def _deletion(events: list[dict[str, Any]]) -> dict[str, Any]:
    """When and by what the document was deleted, and what that delete removed."""
    delete = events[-1]
    last = events[-2] if len(events) > 1 and events[-2]["op"] == "upsert" else None
    held = {e["version"] for e in events}
    return {**_summary(delete), "tombstone": delete.get("tombstone"),
            "last_version": last["version"] if last else None,
            "chunks_removed": len(last["chunks"]) if last else 0,
            "points_removed": sorted(c["point"]["point_id"] for c in (last["chunks"] if last else [])
                                     if c["point"] and c["point"]["state"] == "removed"),
            # Versions the raw lake no longer holds: erased on request (their delete events stay).
            "versions_erased": [v for v in range(1, delete["version"]) if v not in held]}


def _is_uuid(value: str) -> bool:
    """A point id as the index takes it: the index raises on a UUID-shaped id that is not hex."""
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False
