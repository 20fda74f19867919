"""Record-level lineage: from a point or a document, back to the source and forward
to what was derived from it. Every step names where it sits: the Kafka position of
the event, the lake file and row of each record, the index collection of each point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from aifactory.factory import Factory
from governance.contracts import point_id
from ingest.lake import Lake, TableSpec
from ingest.tables import RAW
from transforms.tables import CHUNKS

EVENT_KEYS = ("event_id", "op", "version", "document_id", "tenant", "jurisdiction", "region", "source_uri",
              "content_hash", "event_time", "requested", "parser", "privacy", "run_id",
              "log_epoch", "log_topic", "log_partition", "log_offset",
              "landed_at")
CHUNK_KEYS = ("row_id", "chunk_id", "event_id", "chunk_no", "chunk_count", "section", "page", "token_count",
              "chunker", "screener", "quarantined", "log_epoch", "log_topic", "log_partition", "log_offset")


def _rows(lake: Lake, spec: TableSpec, where: str, params: list[Any], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows of a lake table with the file and row number each sits at."""
    files = [str(f) for f in lake.files(spec)]
    if not files:
        return []
    con = duckdb.connect()
    cols = ", ".join(k for k in keys if k in spec.schema.names)
    cur = con.execute(f"SELECT {cols}, filename, file_row_number FROM read_parquet(?, filename=true, "
                      f"file_row_number=true, union_by_name=true) WHERE {where}", [files, *params])
    names = [d[0] for d in cur.description]
    out = []
    for r in cur.fetchall():
        row = dict(zip(names, r, strict=True))
        row["lake_file"] = str(Path(row.pop("filename")).relative_to(lake.root))
        row["lake_row"] = row.pop("file_row_number")
        out.append({k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()})
    con.close()
    return out


def trace(factory: Factory, tenant: str | None, item_id: str) -> dict[str, Any] | None:
    """The lineage of a document id or a point id of `tenant` (any tenant when None:
    the operator's view), or None."""
    lake, index = factory.lake, factory.index
    where = "document_id = ?" + (" AND tenant = ?" if tenant else "")
    events = _rows(lake, RAW, where, [item_id, *([tenant] if tenant else [])], EVENT_KEYS)
    if events:
        events.sort(key=lambda e: e["version"])
        latest = events[-1]
        chunks = _rows(lake, CHUNKS, "event_id = ? AND op = 'upsert'", [latest["event_id"]], CHUNK_KEYS)
        chunks.sort(key=lambda c: c["chunk_no"])
        wanted = [point_id(c["chunk_id"], index.model_id) for c in chunks]
        found = {h.id: h for h in index.retrieve(latest["region"], wanted)} if wanted else {}
        for chunk, pid in zip(chunks, wanted, strict=True):
            hit = found.get(pid)
            chunk["point"] = {"point_id": pid, "region": latest["region"], "model": index.model_id,
                              "run_id": hit.payload.get("run_id", "")} if hit else None
        return {"kind": "document", "tenant": latest["tenant"], "document_id": item_id, "versions": events,
                "chunks": chunks, "source_uri": latest["source_uri"]}
    for region in index.regions():
        hits = index.retrieve(region, [item_id]) if _is_uuid(item_id) else []
        if hits and tenant in (None, hits[0].payload.get("tenant")):
            p = hits[0].payload
            chunk_rows = _rows(lake, CHUNKS, "row_id = ?", [p["row_id"]], CHUNK_KEYS)
            event_rows = _rows(lake, RAW, "event_id = ?", [p["event_id"]], EVENT_KEYS)
            return {"kind": "point", "tenant": p["tenant"], "point_id": item_id, "region": region,
                    "model": p.get("model"), "run_id": p.get("run_id", ""), "document_id": p["document_id"],
                    "version": p["version"], "chunker": p.get("chunker"), "screener": p.get("screener"),
                    "source_uri": p["source_uri"], "chunk": chunk_rows[0] if chunk_rows else None,
                    "event": event_rows[0] if event_rows else None, "duplicates": p.get("duplicates", [])}
    return None


def _is_uuid(value: str) -> bool:
    parts = value.split("-")
    return len(value) == 36 and [len(p) for p in parts] == [8, 4, 4, 4, 12]
