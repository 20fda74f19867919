"""Reads that join the lake's tables, which no one table's gateway can own without
climbing the layers (raw and dead letters are ingest's, chunks are transforms'):
each answers one question of the stage floor, parameterised and typed.

    pending_events      raw events without an outcome (chunks or a dead letter)
    dead_letter_states  dead letters, each with whether it has been resolved since
    tenant_counts       per tenant, what the three tables hold
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from governance.contracts import DocumentEvent
from ingest import raw_table
from ingest.lake import Lake
from ingest.tables import DEAD_LETTERS, RAW
from transforms.tables import CHUNKS

# Over the narrow columns only: the whole rows (texts) of the few it finds are read after.
_PENDING_SQL = """
WITH latest AS (
    SELECT arg_max(event_id, version) AS event_id FROM raw GROUP BY document_id
)
SELECT event_id FROM latest
WHERE event_id NOT IN (SELECT event_id FROM chunks)
  AND event_id NOT IN (SELECT event_id FROM dead_letters WHERE event_id <> '')
"""

# An ingest failure is resolved once its file produced an event after the failure;
# a transform failure once its event has chunks.
_LETTERS_SQL = """
SELECT d.dead_letter_id, d.stage, d.error_class, d.reason, d.source_uri, d.source_root, d.tenant,
       d.jurisdiction, d.region, d.event_id, d.original_uri, d.occurred_at,
       CASE WHEN d.event_id <> ''
            THEN EXISTS (SELECT 1 FROM chunks c WHERE c.event_id = d.event_id)
            ELSE EXISTS (SELECT 1 FROM raw r WHERE (r.source_uri = d.source_uri
                                                     OR starts_with(r.source_uri, d.source_uri || '#'))
                                               AND r.landed_at > d.occurred_at)
       END AS resolved
FROM dead_letters d
ORDER BY d.occurred_at, d.dead_letter_id
"""

_COUNTS_SQL = """
WITH tenants AS (
    SELECT tenant FROM raw UNION SELECT tenant FROM chunks UNION SELECT tenant FROM dead_letters
),
latest AS (
    SELECT tenant, op FROM raw
    QUALIFY row_number() OVER (PARTITION BY document_id ORDER BY version DESC) = 1
),
current_chunks AS (
    SELECT c.tenant, c.quarantined FROM chunks c
    JOIN (SELECT document_id, max(version) AS version FROM chunks GROUP BY document_id) l
      USING (document_id, version)
    WHERE c.op = 'upsert'
)
SELECT t.tenant,
       (SELECT count(*) FROM raw r WHERE r.tenant = t.tenant) AS events,
       (SELECT count(*) FROM latest l WHERE l.tenant = t.tenant AND l.op = 'upsert') AS documents,
       (SELECT count(*) FROM chunks c WHERE c.tenant = t.tenant AND c.op = 'upsert') AS chunk_rows,
       (SELECT count(*) FROM current_chunks c WHERE c.tenant = t.tenant) AS current_chunks,
       (SELECT count(*) FROM current_chunks c WHERE c.tenant = t.tenant AND c.quarantined) AS quarantined,
       (SELECT count(*) FROM dead_letters d WHERE d.tenant = t.tenant) AS dead_letters
FROM tenants t ORDER BY t.tenant
"""


@dataclass(frozen=True)
class DeadLetterState:
    """A dead letter as a person reads it, and whether its input has gone through since."""

    dead_letter_id: str
    stage: str
    error_class: str
    reason: str
    source_uri: str
    source_root: str
    tenant: str
    jurisdiction: str
    region: str
    event_id: str
    original_uri: str
    occurred_at: datetime
    resolved: bool


@dataclass(frozen=True)
class TenantCounts:
    """What the lake holds of one tenant."""

    tenant: str
    events: int  # raw rows
    documents: int  # documents whose latest version is an upsert
    chunk_rows: int  # upsert chunk rows, every version
    current_chunks: int  # chunks of each document's latest version
    quarantined: int  # of those, quarantined by the screener
    dead_letters: int


def pending_events(lake: Lake) -> list[DocumentEvent]:
    """Latest raw-lake events of each document whose outcome never landed."""
    with lake.connect(RAW, CHUNKS, DEAD_LETTERS) as con:
        ids = [r[0] for r in con.execute(_PENDING_SQL).fetchall()]
    return raw_table.events_by_id(lake, ids) if ids else []


def dead_letter_states(lake: Lake) -> list[DeadLetterState]:
    """Every dead letter, oldest first."""
    with lake.connect(DEAD_LETTERS, RAW, CHUNKS) as con:
        return [DeadLetterState(*r) for r in con.execute(_LETTERS_SQL).fetchall()]


def tenant_counts(lake: Lake) -> list[TenantCounts]:
    """Per tenant of any table, by tenant."""
    with lake.connect(RAW, CHUNKS, DEAD_LETTERS) as con:
        return [TenantCounts(*r) for r in con.execute(_COUNTS_SQL).fetchall()]
