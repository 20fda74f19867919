"""Reads that every lake table answers the same way, for the table gateways
(`ingest.raw_table`, `ingest.dead_letter_table`, `transforms.chunk_table`) and for
reports over any table: rows, landed log offsets, repeated keys (and the files
holding each), placements, and rows with the file and row number each sits at.

The table is registered under a fixed view name, so no SQL names a table here, and
every value is a parameter. Reads that need a row's file are done file by file
through Arrow, so they answer the same on a folder and on object storage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from ingest import duck
from ingest.lake import Lake, TableSpec

_VIEW = "lake_table"  # the view each read registers its table under (named in the SQL below)

_ROWS_SQL = "SELECT count(*) FROM lake_table"
_OFFSETS_SQL = """
SELECT log_topic, log_partition, min(log_offset), max(log_offset), count(*) FROM lake_table
WHERE log_epoch = (SELECT max_by(log_epoch, landed_at) FROM lake_table)
GROUP BY ALL ORDER BY 1, 2
"""
_REPEATED_SQL = "SELECT count(*) - count(DISTINCT key) FROM lake_table"
_REPEATED_FILES_SQL = """
SELECT key, list(file ORDER BY file) FROM lake_table GROUP BY key HAVING count(*) > 1 ORDER BY key
"""
_PLACEMENT_SQL = "SELECT tenant, jurisdiction, region, count(*) FROM lake_table GROUP BY ALL"


@dataclass(frozen=True)
class Offsets:
    """Log offsets a table holds for one `topic[partition]`."""

    first: int
    last: int
    rows: int


@dataclass(frozen=True)
class Placement:
    """How many rows of a tenant and jurisdiction sit in a region."""

    tenant: str | None
    jurisdiction: str | None
    region: str | None
    count: int


@dataclass(frozen=True)
class RepeatedKey:
    """A row key stored more than once, with the file of each copy (a file twice if it holds two)."""

    key: str
    files: tuple[str, ...]  # lake keys


@dataclass(frozen=True)
class LocatedRow:
    """A row's asked-for columns, with the lake file (relative to the lake) and row it sits at."""

    values: dict[str, Any]
    lake_file: str
    lake_row: int


def _connect(lake: Lake, spec: TableSpec) -> duckdb.DuckDBPyConnection:
    con = duck.connect()
    con.register(_VIEW, lake.dataset(spec))
    return con


def row_count(lake: Lake, spec: TableSpec) -> int:
    with _connect(lake, spec) as con:
        row = con.execute(_ROWS_SQL).fetchone()
    return int(row[0]) if row else 0


def landed_offsets(lake: Lake, spec: TableSpec) -> dict[str, Offsets]:
    """Per `topic[partition]`, the log offsets the table holds for the log epoch it landed last."""
    with _connect(lake, spec) as con:
        rows = con.execute(_OFFSETS_SQL).fetchall()
    return {f"{t}[{p}]": Offsets(lo, hi, n) for t, p, lo, hi, n in rows}


def repeated_keys(lake: Lake, spec: TableSpec) -> int:
    """Rows whose key is stored more than once (exactly-once broken)."""
    keys = lake.dataset(spec).to_table(columns={"key": ds.field(spec.key)})
    with duck.connect() as con:
        con.register(_VIEW, keys)
        row = con.execute(_REPEATED_SQL).fetchone()
    return int(row[0]) if row else 0


def repeated_key_files(lake: Lake, spec: TableSpec) -> list[RepeatedKey]:
    """Every key stored more than once (what `repeated_keys` counts), with where each copy sits."""
    files = lake.files(spec)
    if not files:
        return []
    parts = []
    for n, key in enumerate(files):
        keys = lake.read_table(key, columns=[spec.key]).column(spec.key)
        parts.append(pa.table({"key": keys, "file": pa.repeat(pa.scalar(n, pa.int32()), len(keys))}))
    table = pa.concat_tables(parts)
    with duck.connect() as con:
        con.register(_VIEW, table)
        rows = con.execute(_REPEATED_FILES_SQL).fetchall()
    return [RepeatedKey(key, tuple(files[n] for n in copies)) for key, copies in rows]


def placements(lake: Lake, spec: TableSpec) -> list[Placement]:
    """Rows per tenant, jurisdiction and region."""
    with _connect(lake, spec) as con:
        rows = con.execute(_PLACEMENT_SQL).fetchall()
    return [Placement(tenant, jurisdiction, region, n) for tenant, jurisdiction, region, n in rows]


def located_rows(lake: Lake, spec: TableSpec, columns: Sequence[str], match: Mapping[str, str]) -> list[LocatedRow]:
    """The `columns` of the rows whose `match` columns equal its values, each with the
    file and row number it sits at. Files written before a column existed read it as null.
    Read file by file through Arrow, so it works the same on a folder and on object storage."""
    unknown = sorted({*columns, *match} - set(spec.schema.names))
    if unknown:
        raise ValueError(f"{spec.name} has no column(s) {unknown}")
    out = []
    for key in lake.files(spec):
        try:
            table = lake.read_table(key)
        except FileNotFoundError:  # compacted or quarantined meanwhile
            continue
        hit = None
        for column, value in match.items():
            if column not in table.column_names:
                hit = None
                break
            same = pc.fill_null(pc.equal(table.column(column), pa.scalar(value, table.schema.field(column).type)),
                                False)
            hit = same if hit is None else pc.and_(hit, same)
        if hit is None:
            continue
        for row in pc.indices_nonzero(hit).to_pylist():
            values = {c: table.column(c)[row].as_py() if c in table.column_names else None for c in columns}
            out.append(LocatedRow(values=values, lake_file=key, lake_row=row))
    return out


def rows_in(lake: Lake, files: Sequence[str], columns: Sequence[str]) -> list[dict[str, Any]]:
    """The given columns of every row of `files`; a file that went away meanwhile
    (compacted, quarantined) is skipped: its rows are in the file that replaced it."""
    rows: list[dict[str, Any]] = []
    for key in files:
        try:
            rows.extend(lake.read_table(key, columns=columns).to_pylist())
        except FileNotFoundError:
            continue
    return rows
