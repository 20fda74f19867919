"""The lake table of chunks (and tombstones of deleted documents)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from governance.contracts import ChunkRecord, LogPosition
from ingest.lake import TS, TableSpec, log_columns, position_values

CHUNKS = TableSpec(
    name="chunks",
    key="row_id",
    time_column="event_time",
    schema=pa.schema(
        [
            pa.field("row_id", pa.string()),
            pa.field("chunk_id", pa.string()),
            pa.field("op", pa.string()),
            pa.field("event_id", pa.string()),
            pa.field("tenant", pa.string()),
            pa.field("jurisdiction", pa.string()),
            pa.field("region", pa.string()),
            pa.field("document_id", pa.string()),
            pa.field("version", pa.int64()),
            pa.field("chunk_no", pa.int32()),
            pa.field("chunk_count", pa.int32()),
            pa.field("text", pa.string()),
            pa.field("content_hash", pa.string()),
            pa.field("title", pa.string()),
            pa.field("source_uri", pa.string()),
            pa.field("section", pa.string()),
            pa.field("page", pa.int32()),
            pa.field("token_count", pa.int32()),
            pa.field("simhash", pa.string()),
            pa.field("pii", pa.string()),
            pa.field("quarantined", pa.bool_()),
            pa.field("screening_score", pa.float32()),
            pa.field("screening_reasons", pa.string()),
            pa.field("event_time", TS),
            pa.field("chunker", pa.string()),
            pa.field("screener", pa.string()),
            pa.field("schema_version", pa.int32()),
            *log_columns("raw"),  # the document event this chunk came from
            *log_columns("log"),  # where the chunk itself sat on the chunks topic
            pa.field("landed_at", TS),
        ]
    ),
)


def chunk_row(record: ChunkRecord, at: LogPosition) -> dict[str, Any]:
    row = record.model_dump(exclude={"raw", "pii", "screening_reasons"})
    row["pii"] = json.dumps(record.pii, sort_keys=True)
    row["screening_reasons"] = json.dumps(record.screening_reasons)
    row.update(position_values("raw", record.raw))
    row.update(position_values("log", at))
    row["landed_at"] = datetime.now(UTC)
    return row
