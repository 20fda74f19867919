"""Lake tables written by the ingest layer: raw document events and dead letters."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from governance.contracts import DeadLetter, DocumentEvent, LogPosition
from ingest.lake import TS, TableSpec, contract_schema, log_columns, position_values

# Typed once, by the contracts: a column per field (governance/contracts.py).
RAW = TableSpec(
    name="raw",
    key="event_id",
    time_column="event_time",
    # The log columns hold the event's first position in the log (kept through replays).
    schema=contract_schema(DocumentEvent, widths={"schema_version": pa.int32()}, positions={"origin": "log"},
                           extra=[pa.field("landed_at", TS)]),
)

DEAD_LETTERS = TableSpec(
    name="dead_letters",
    key="dead_letter_id",
    time_column="occurred_at",
    schema=contract_schema(DeadLetter, widths={"schema_version": pa.int32()},
                           extra=[*log_columns("log"), pa.field("landed_at", TS)]),
)


def raw_row(event: DocumentEvent, at: LogPosition) -> dict[str, Any]:
    row = event.model_dump(exclude={"origin", "metadata", "pii"})
    row["metadata"] = json.dumps(event.metadata, sort_keys=True)
    row["pii"] = json.dumps(event.pii, sort_keys=True)
    row.update(position_values("log", event.origin or at))
    row["landed_at"] = datetime.now(UTC)
    return row


def event_from_row(row: dict[str, Any]) -> DocumentEvent:
    """The event as it was published, with its first log position as origin."""
    skip = ("metadata", "origin", "pii", "subjects", "requested", "parser", "privacy", "run_id")
    fields = {k: row[k] for k in DocumentEvent.model_fields if k in row and k not in skip}
    return DocumentEvent(
        **fields,
        # Files written before these columns existed read them as null.
        subjects=row.get("subjects") or [], requested=row.get("requested") or "",
        parser=row.get("parser") or "", privacy=row.get("privacy") or "", run_id=row.get("run_id") or "",
        metadata=json.loads(row["metadata"] or "{}"),
        pii=json.loads(row.get("pii") or "{}"),
        origin=LogPosition(epoch=row["log_epoch"], topic=row["log_topic"],
                           partition=row["log_partition"], offset=row["log_offset"]),
    )


def dead_letter_row(letter: DeadLetter, at: LogPosition) -> dict[str, Any]:
    row = letter.model_dump(exclude={"raw"})
    row.update(position_values("raw", letter.raw))
    row.update(position_values("log", at))
    row["landed_at"] = datetime.now(UTC)
    return row
