"""The raw table's gateway: every query over the raw lake (document events as they
landed, `ingest.tables.RAW`), each parameterised, each answering with typed records.
Queries that must also name another table (pending events, per-tenant counts) live
with the stage floor, in `pipeline.lake_views`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import duckdb

from governance.contracts import DocumentEvent
from ingest.lake import Lake
from ingest.lake_reads import LocatedRow, located_rows
from ingest.tables import RAW, event_from_row

_LATEST_SQL = """
SELECT document_id, max(version), arg_max(op, version), arg_max(content_hash, version),
       arg_max(coalesce(requested, ''), version),
       arg_max(content_hash, version) FILTER (WHERE op = 'upsert'),
       arg_max(source_root, version)
FROM raw
WHERE tenant = ?
GROUP BY document_id
"""
_ERASED_SQL = """
SELECT DISTINCT unnest(subjects) FROM raw
WHERE tenant = ? AND op = 'delete' AND coalesce(requested, '') <> ''
"""
_EVENTS_SQL = "SELECT * FROM raw ORDER BY document_id, version"
_EVENTS_BY_ID_SQL = "SELECT * FROM raw WHERE list_contains(?, event_id) ORDER BY document_id, version"
_EVENT_IDS_SQL = "SELECT event_id FROM raw"
_NEWEST_SQL = "SELECT max(landed_at) FROM raw"
_TENANTS_SQL = "SELECT DISTINCT tenant FROM raw"
_REGIONS_SQL = "SELECT DISTINCT region FROM raw WHERE tenant = ?"
_DOCUMENT_SQL = """
SELECT document_id, tenant, version, op, title, source_uri, jurisdiction, region, event_id, event_time
FROM raw WHERE tenant = ? AND document_id = ?
ORDER BY version DESC LIMIT 1
"""
_NAMING_SQL = """
SELECT event_id, document_id, source_uri, region FROM raw
WHERE tenant = ? AND op = 'upsert' AND (document_id = ? OR list_contains(coalesce(subjects, []), ?))
"""
# The latest version of each document a file made (its records or archive entries are `#part`s).
_FILE_DOCUMENTS_SQL = """
SELECT document_id, version, op, event_id FROM raw
WHERE tenant = ? AND (document_id = ? OR starts_with(document_id, ? || '#'))
QUALIFY row_number() OVER (PARTITION BY document_id ORDER BY version DESC) = 1
ORDER BY document_id
"""
_IS_LIVE_SQL = "SELECT arg_max(op, version) = 'upsert' FROM raw WHERE tenant = ? AND document_id = ?"
_LIVE_SQL = """
SELECT document_id, version, jurisdiction, region, source_uri, source_root, coalesce(subjects, []) AS subjects,
       content_hash
FROM raw WHERE tenant = ?
QUALIFY row_number() OVER (PARTITION BY document_id ORDER BY version DESC) = 1 AND op = 'upsert'
ORDER BY document_id
"""
# The columns that can hold personal data, and those that place a row.
_WRITTEN_COLUMNS = ("document_id", "source_uri", "title", "text", "metadata")
_PLACE_COLUMNS = ("event_id", "document_id", "source_uri", "region")
# The columns a lineage trace shows of an event.
_TRACED_COLUMNS = ("event_id", "op", "version", "document_id", "tenant", "jurisdiction", "region", "source_uri",
                   "content_hash", "event_time", "requested", "parser", "privacy", "run_id",
                   "log_epoch", "log_topic", "log_partition", "log_offset", "landed_at")


@dataclass(frozen=True)
class LatestVersion:
    """A document's latest version in the raw lake, as a scan compares a file with it."""

    version: int
    op: str
    content_hash: str
    requested: str  # the delete request behind it, "" when none
    upsert_hash: str | None  # the content hash of the latest upsert (a requested delete may erase the upserts)
    source_root: str | None  # the folder that last held the document


@dataclass(frozen=True)
class DocumentHead:
    """The latest version of one document, as the vector API shows it."""

    document_id: str
    tenant: str
    version: int
    op: str
    title: str
    source_uri: str
    jurisdiction: str
    region: str
    event_id: str
    event_time: datetime


@dataclass(frozen=True, order=True)
class EventPlace:
    """Where an event's data sits: its id, document, source and region."""

    event_id: str
    document_id: str
    source_uri: str
    region: str


@dataclass(frozen=True)
class LiveDocument:
    """A document whose latest version is an upsert: what a delete event for it needs."""

    document_id: str
    version: int
    jurisdiction: str
    region: str
    source_uri: str
    source_root: str
    subjects: tuple[str, ...]
    content_hash: str


def _connect(lake: Lake) -> duckdb.DuckDBPyConnection:
    return lake.connect(RAW)


def _events(lake: Lake, sql: str, params: list[Any] | None = None) -> list[DocumentEvent]:
    with _connect(lake) as con:
        cur = con.execute(sql, params)
        cols = [d[0] for d in cur.description]
        return [event_from_row(dict(zip(cols, r, strict=True))) for r in cur.fetchall()]


def latest_versions(lake: Lake, tenant: str) -> dict[str, LatestVersion]:
    """Every document of the tenant (whichever folder last held it) -> its latest version."""
    with _connect(lake) as con:
        rows = con.execute(_LATEST_SQL, [tenant]).fetchall()
    return {r[0]: LatestVersion(*r[1:]) for r in rows}


def erased_subjects(lake: Lake, tenant: str) -> set[str]:
    """Subject keys named by the tenant's requested deletes (erasures)."""
    with _connect(lake) as con:
        return {r[0] for r in con.execute(_ERASED_SQL, [tenant]).fetchall()}


def events(lake: Lake) -> list[DocumentEvent]:
    """Every event of the raw lake, the durable log, in order per document."""
    return _events(lake, _EVENTS_SQL)


def events_by_id(lake: Lake, event_ids: Collection[str]) -> list[DocumentEvent]:
    """The events of `event_ids` the raw lake holds, in order per document."""
    return _events(lake, _EVENTS_BY_ID_SQL, [sorted(event_ids)])


def event_ids(lake: Lake) -> set[str]:
    if not lake.files(RAW):
        return set()
    with _connect(lake) as con:
        return {r[0] for r in con.execute(_EVENT_IDS_SQL).fetchall()}


def newest_landed(lake: Lake) -> datetime | None:
    """When the raw lake last landed a row; None when it is empty."""
    if not lake.files(RAW):
        return None
    with _connect(lake) as con:
        row = con.execute(_NEWEST_SQL).fetchone()
    return row[0] if row else None


def tenants(lake: Lake) -> list[str]:
    """Every tenant the raw lake holds documents of, sorted."""
    with _connect(lake) as con:
        return sorted(r[0] for r in con.execute(_TENANTS_SQL).fetchall())


def tenant_regions(lake: Lake, tenant: str) -> list[str]:
    """The regions a tenant's documents live in, sorted."""
    with _connect(lake) as con:
        return sorted(r[0] for r in con.execute(_REGIONS_SQL, [tenant]).fetchall())


def document_head(lake: Lake, tenant: str, document_id: str) -> DocumentHead | None:
    """The latest version of a tenant's document, or None."""
    with _connect(lake) as con:
        row = con.execute(_DOCUMENT_SQL, [tenant, document_id]).fetchone()
    if row is None:
        return None
    head = DocumentHead(*row)
    opened = lake.sealer.open_fields({"tenant": head.tenant, "title": head.title})  # None: shredded
    return replace(head, title=opened["title"] if opened is not None else "")


def upserts_naming(lake: Lake, tenant: str, document: str, subject: str) -> list[EventPlace]:
    """The tenant's upserts of `document` or naming the subject key `subject` ("" names none)."""
    if not lake.files(RAW):
        return []
    with _connect(lake) as con:
        rows = con.execute(_NAMING_SQL, [tenant, document, subject or "\x00"]).fetchall()
    return [EventPlace(*r) for r in rows]


@dataclass(frozen=True)
class VersionHead:
    """A document's latest version: which event made it, and whether it is a delete."""

    document_id: str
    version: int
    op: str
    event_id: str


def file_documents(lake: Lake, tenant: str, document_id: str) -> list[VersionHead]:
    """The latest version of the document a file made, and of its `#part`s (records, archive entries)."""
    with _connect(lake) as con:
        return [VersionHead(r[0], int(r[1]), r[2], r[3])
                for r in con.execute(_FILE_DOCUMENTS_SQL, [tenant, document_id, document_id]).fetchall()]


def is_live(lake: Lake, tenant: str, document: str) -> bool:
    """Whether the document's latest version is an upsert."""
    with _connect(lake) as con:
        row = con.execute(_IS_LIVE_SQL, [tenant, document]).fetchone()
    return bool(row and row[0])


def live_documents(lake: Lake, tenant: str) -> list[LiveDocument]:
    """The tenant's documents whose latest version is an upsert, by document id."""
    with _connect(lake) as con:
        rows = con.execute(_LIVE_SQL, [tenant]).fetchall()
    return [LiveDocument(document_id=d, version=v, jurisdiction=j, region=r, source_uri=uri, source_root=root,
                         subjects=tuple(subjects), content_hash=h) for d, v, j, r, uri, root, subjects, h in rows]


def rows_holding(lake: Lake, tenant: str, holds: Callable[[str], bool]) -> list[EventPlace]:
    """The tenant's rows whose personal-data columns, as text, `holds` says yes to
    (an identifier written in some spelling, whatever the subject index says). Read
    file by file, in batches; files written before a column existed lack it."""
    found: list[EventPlace] = []
    for key in lake.files(RAW):
        if f"tenant={tenant}" not in key.split("/"):
            continue
        parquet = lake.parquet_file(key)
        names = [n for n in (*_PLACE_COLUMNS, *_WRITTEN_COLUMNS) if n in parquet.schema_arrow.names]
        for batch in parquet.iter_batches(batch_size=2048, columns=list(dict.fromkeys(names))):
            # Sealed text is opened to be read; a shredded tenant's rows hold nothing readable.
            rows = lake.sealer.open_rows([{**r, "tenant": tenant} for r in batch.to_pylist()])
            texts = ["\n".join(str(r.get(c) or "") for c in _WRITTEN_COLUMNS) for r in rows]
            if holds("\n".join(texts)):  # most batches: one test
                found += [EventPlace(*(str(r.get(c) or "") for c in _PLACE_COLUMNS))
                          for r, text in zip(rows, texts, strict=True) if holds(text)]
    return found


def locate_event(lake: Lake, event_id: str) -> list[LocatedRow]:
    """The event's row (a replayed one may be stored twice), with its file and row number."""
    return located_rows(lake, RAW, _TRACED_COLUMNS, {"event_id": event_id})


def document_events(lake: Lake, document_id: str, tenant: str | None = None) -> list[LocatedRow]:
    """Every version of a document (of `tenant`, when given), each with its file and row number."""
    return located_rows(lake, RAW, _TRACED_COLUMNS,
                        {"document_id": document_id, **({"tenant": tenant} if tenant else {})})
