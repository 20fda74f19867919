"""The lake table of chunks (and tombstones of deleted documents)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from governance.contracts import ChunkRecord, LogPosition
from ingest.lake import TS, TableSpec, contract_schema, log_columns, position_values

# Typed once, by the contract (governance/contracts.py ChunkRecord): its `raw` field is the
# document event the chunk came from; the log columns say where the chunk itself sat.
CHUNKS = TableSpec(
    name="chunks",
    key="row_id",
    time_column="event_time",
    schema=contract_schema(
        ChunkRecord,
        widths={**dict.fromkeys(("schema_version", "chunk_no", "chunk_count", "page", "token_count"), pa.int32()),
                "screening_score": pa.float32()},
        as_json={"screening_reasons"},
        extra=[*log_columns("log"), pa.field("landed_at", TS)],
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
