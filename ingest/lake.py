"""The Parquet lake: tables of hive-partitioned files, `region=/tenant=/date=`.

Files are written durably (lake_store.py: on a folder, temp file, fsync, rename;
on object storage, one upload that appears whole) so that a Kafka offset committed
after `write` never covers a row that could be lost. DuckDB reads the tables
through pyarrow datasets (no DuckDB extension, so no download), and no SQL is ever
built from paths or keys.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pydantic import BaseModel

from governance.audit import AuditLog
from governance.contracts import LogPosition
from governance.errors import ResidencyError
from governance.keyring import ShreddedError
from governance.names import valid_name
from governance.residency import ResidencyPolicy
from governance.sealing import Sealer
from governance.signals import SignalLog
from ingest import duck
from ingest.errors import LakeError
from ingest.footers import ReadFooters
from ingest.lake_store import LakeStore, StoredFile

log = logging.getLogger(__name__)

TS = pa.timestamp("us", tz="UTC")
BLOBS = "dead_letter_blobs"  # the kept bytes of failed inputs


@dataclass(frozen=True)
class TableSpec:
    """A lake table: its folder name, Arrow schema and the column that identifies a row."""

    name: str
    schema: pa.Schema
    key: str
    time_column: str


def log_columns(prefix: str) -> list[pa.Field]:
    return [
        pa.field(f"{prefix}_epoch", pa.string()),
        pa.field(f"{prefix}_topic", pa.string()),
        pa.field(f"{prefix}_partition", pa.int32()),
        pa.field(f"{prefix}_offset", pa.int64()),
    ]


def contract_schema(model: type[BaseModel], *, widths: Mapping[str, pa.DataType] | None = None,
                    positions: Mapping[str, str] | None = None, as_json: Collection[str] = (),
                    extra: Sequence[pa.Field] = ()) -> pa.Schema:
    """The lake schema of a data contract, so a table is typed once: a column per field
    of `model`, in its order. `widths` narrows a column (int32 for small counts); a
    LogPosition field becomes the four columns of `positions[name]` (its own name by
    default); dicts, and the lists named in `as_json`, are kept as JSON text. `extra`
    are the lake's own columns (where a row sat on the log, when it landed)."""
    widths, positions = widths or {}, positions or {}
    fields: list[pa.Field] = []
    for name, info in model.model_fields.items():
        kind = _without_none(info.annotation)
        if kind is LogPosition:
            fields += log_columns(positions.get(name, name))
        elif name in widths:
            fields.append(pa.field(name, widths[name]))
        else:
            fields.append(pa.field(name, _arrow_type(name, kind, json_text=name in as_json)))
    return pa.schema([*fields, *extra])


def _without_none(annotation: Any) -> Any:
    args = [a for a in get_args(annotation) if a is not type(None)]
    return args[0] if get_origin(annotation) in (Union, UnionType) and len(args) == 1 else annotation


def _arrow_type(name: str, kind: Any, *, json_text: bool) -> pa.DataType:
    origin = get_origin(kind)
    if kind is str or origin is Literal:
        return pa.string()
    if kind is bool:
        return pa.bool_()
    if kind is int:
        return pa.int64()
    if kind is float:
        return pa.float64()
    if kind is datetime:
        return TS
    if origin is dict or (origin is list and json_text):
        return pa.string()
    if origin is list and get_args(kind) == (str,):
        return pa.list_(pa.string())
    raise TypeError(f"{name}: no lake column type for {kind!r}; give it a width or a JSON form")


def position_values(prefix: str, pos: Any) -> dict[str, Any]:
    """The values of `log_columns(prefix)` for a LogPosition, or nulls for None."""
    return {
        f"{prefix}_epoch": pos.epoch if pos else None,
        f"{prefix}_topic": pos.topic if pos else None,
        f"{prefix}_partition": pos.partition if pos else None,
        f"{prefix}_offset": pos.offset if pos else None,
    }


class Lake:
    """With a residency policy, every write is checked: a row goes only to a region
    its jurisdiction may be stored in. A refused row is never written; it is
    audited, and the caller dead-letters it in an allowed region.

    Files are named by keys relative to the lake (see lake_store.py); they live under
    `root` by default, or on object storage at `url`, one place per region in
    `region_urls`."""

    def __init__(self, root: Path, *, url: str = "", region_urls: Mapping[str, str] | None = None,
                 residency: ResidencyPolicy | None = None, audit: AuditLog | None = None,
                 signals: SignalLog | None = None, sealer: Sealer | None = None) -> None:
        # Absolute: blob paths become file URIs in dead letters.
        self.root, self.residency, self.audit = Path(root).absolute(), residency, audit
        self.signals = signals  # refusals and quarantined files, counted for the threat metrics
        self.sealer = sealer or Sealer(None)  # text and title sealed per tenant (governance/sealing.py)
        self.store = LakeStore(self.root, url=url, region_urls=region_urls)
        self._checked = ReadFooters(self.root / "_keys" / "footers.jsonl")  # files whose footer was read

    @property
    def location(self) -> str:
        """The lake's default place, as a URL (file:///... or s3://bucket/prefix)."""
        return self.store.default.url

    def admit(self, spec: TableSpec, row: dict[str, Any]) -> None:
        """Raise ResidencyError (and audit it) when `row` may not go to its region."""
        jurisdiction, region = row.get("jurisdiction"), row.get("region")
        if self.residency is None or not jurisdiction or not region:
            return
        try:
            self.residency.check(jurisdiction, region)
        except ResidencyError as exc:
            if self.audit is not None:
                self.audit.append("residency.refused", str(row.get("tenant") or ""), sink=f"lake/{spec.name}",
                                  region=region, jurisdiction=jurisdiction, key=str(row.get(spec.key)),
                                  reason=str(exc))
            if self.signals is not None:
                self.signals.raise_("residency", {str(row.get("tenant") or ""): 1})
            raise

    def uri(self, key: str) -> str:
        return self.store.uri(key)

    def stored(self, spec: TableSpec, folder: str = "") -> list[StoredFile]:
        """The table's readable files (those in `folder`, a key prefix), with sizes. A corrupt or
        truncated file is moved aside (see `quarantine`) instead of failing every query of
        every tenant: the lake is a projection, and the next run rebuilds what the file held
        (the scan republishes documents the raw lake lacks; pending events are chunked again)."""
        found = self.store.listing(folder or spec.name, ".parquet")
        return [f for f in found if self._readable(spec, f)]

    def files(self, spec: TableSpec, folder: str = "") -> list[str]:
        """The keys of the table's readable files (in `folder`), sorted."""
        return [f.key for f in self.stored(spec, folder)]

    def _readable(self, spec: TableSpec, stored: StoredFile) -> bool:
        key = (stored.key, stored.size, stored.mtime_ns)
        if key in self._checked:
            return True
        try:
            schema = self.read_schema(stored.key)  # reads the footer: a truncated or garbled file fails here
        except FileNotFoundError:  # compacted or quarantined by another process meanwhile
            return False
        except (OSError, pa.ArrowException) as exc:
            self.quarantine(spec, stored.key, f"{type(exc).__name__}: {exc}")
            return False
        if spec.key not in schema.names:
            self.quarantine(spec, stored.key, f"no {spec.key!r} column: not a file of the {spec.name} table")
            return False
        self._checked.add(key)
        return True

    def quarantine(self, spec: TableSpec, key: str, reason: str) -> None:
        """Move an unreadable file to quarantine/<table>/... in its place, audited and logged."""
        target = f"quarantine/{key}"
        if not self.store.move(key, target):
            return  # another process moved it first
        log.warning("lake file %s cannot be read (%s); moved to %s, the next run rebuilds what it held",
                    self.uri(key), reason, self.uri(target))
        if self.audit is not None:
            self.audit.append("lake.quarantined", key, sink=f"lake/{spec.name}", moved_to=target, reason=reason)
        if self.signals is not None:
            self.signals.raise_("lake_file", {"": 1})  # whose rows it held is unknown: the file is unreadable

    def write(self, spec: TableSpec, rows: list[dict[str, Any]]) -> list[str]:
        """Write rows durably, one file per partition; return the keys written.
        Raises ResidencyError, writing nothing, if any row breaks the policy."""
        for row in rows:
            self.admit(spec, row)
        groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            when = row[spec.time_column]
            day = when.date().isoformat() if isinstance(when, datetime) else str(when)[:10]
            groups[(row["region"] or "unassigned", row["tenant"] or "unassigned", day)].append(row)
        written = []
        for (region, tenant, day), part in groups.items():
            if not (valid_name(region) and valid_name(tenant) and valid_name(day)):
                # The contracts refuse such names; this keeps any other writer inside the lake.
                raise LakeError(f"partition region={region!r} tenant={tenant!r} date={day!r} is not a plain "
                                "name; tenants and regions are letters, digits, '.', '_' and '-'")
            folder = f"{spec.name}/region={region}/tenant={tenant}/date={day}"
            try:
                table = pa.Table.from_pylist(part, schema=spec.schema)
            except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError) as exc:
                raise LakeError(f"rows do not match the {spec.name} table schema: {exc}") from exc
            written.append(self._write_table(spec, table, folder))
        return written

    def _write_table(self, spec: TableSpec, table: pa.Table, folder: str) -> str:
        # Named by the keys it holds: two runs landing the same rows write the same file.
        keys = "\n".join(str(k) for k in table.column(spec.key).to_pylist())
        key = f"{folder}/part-{hashlib.sha256(keys.encode()).hexdigest()[:20]}.parquet"
        self.store.put(key, lambda out: pq.write_table(table, out, compression="zstd"))
        if (f := self.store.stat(key)) is not None:
            self._checked.add((f.key, f.size, f.mtime_ns))  # a file it wrote needs no check
        return key

    def store_blob(self, region: str, tenant: str, data: bytes, *, jurisdiction: str = "") -> str:
        """Keep the bytes of a failing input, content-addressed, in its region; returns its URI."""
        if self.residency is not None and jurisdiction:
            self.residency.check(jurisdiction, region)
        digest = hashlib.sha256(data).hexdigest()
        if not all(valid_name(n) for n in (region or "unassigned", tenant or "unassigned")):
            raise LakeError(f"dead-letter copy for region {region!r}, tenant {tenant!r}: not plain names")
        key = (f"{BLOBS}/region={region or 'unassigned'}/tenant={tenant or 'unassigned'}/"
               f"{digest[:2]}/{digest}")
        if not self.store.exists(key):  # named by the plain bytes' hash, so a retry stores it once
            sealed = self.sealer.seal_bytes(tenant, data) if tenant else data
            self.store.put(key, lambda out: out.write(sealed))
        return self.uri(key)

    def blobs(self, tenant: str | None = None) -> list[StoredFile]:
        """The kept bytes of failed inputs (of one tenant), by key."""
        found = self.store.listing(BLOBS)
        return [f for f in found if tenant is None or f"tenant={tenant}" in f.key.split("/")]

    def read_bytes(self, key: str) -> bytes:
        return self.store.read_bytes(key)

    def read_blob(self, key: str, tenant: str) -> bytes:
        """A kept dead-letter copy, opened when it was sealed; empty when its tenant was shredded."""
        try:
            return self.sealer.open_bytes(tenant, self.store.read_bytes(key))
        except ShreddedError:
            return b""

    def remove(self, key: str) -> bool:
        return self.store.remove(key)

    def exists(self, key: str) -> bool:
        return self.store.exists(key)

    def read_schema(self, key: str) -> pa.Schema:
        place = self.store.place(key)
        return pq.read_schema(place.path(key), filesystem=place.fs)

    def read_table(self, key: str, *, columns: Sequence[str] | None = None,
                   schema: pa.Schema | None = None) -> pa.Table:
        place = self.store.place(key)
        return pq.read_table(place.path(key), columns=list(columns) if columns is not None else None,
                             schema=schema, filesystem=place.fs)

    def parquet_file(self, key: str) -> pq.ParquetFile:
        place = self.store.place(key)
        return pq.ParquetFile(place.fs.open_input_file(place.path(key)))

    def dataset(self, spec: TableSpec) -> ds.Dataset:
        return self.dataset_of(self.files(spec), spec.schema)

    def dataset_of(self, keys: Collection[str], schema: pa.Schema) -> ds.Dataset:
        """The files `keys` as one Arrow dataset (a union where they sit in several places)."""
        by_place: dict[str, tuple[Any, list[str]]] = {}
        for key in sorted(keys):
            place = self.store.place(key)
            by_place.setdefault(place.url, (place.fs, []))[1].append(place.path(key))
        parts = [ds.dataset(paths, schema=schema, format="parquet", filesystem=fs)
                 for fs, paths in by_place.values()]
        if len(parts) == 1:
            return parts[0]
        return ds.dataset(parts) if parts else ds.dataset([], schema=schema, format="parquet")

    def connect(self, *specs: TableSpec) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with each table registered as a view of its name."""
        con = duck.connect()
        for spec in specs:
            con.register(spec.name, self.dataset(spec))
        return con

    def keys(self, spec: TableSpec) -> set[str]:
        files = self.files(spec)
        if not files:
            return set()
        return set(self.dataset_of(files, spec.schema).to_table(columns=[spec.key]).column(spec.key).to_pylist())

    def remove_rows(self, spec: TableSpec, column: str, values: set[str]) -> dict[str, int]:
        """Rewrite every file holding rows whose `column` is in `values` without them,
        durably and under a new name (a file left empty is just removed). Returns
        file key -> rows removed."""
        removed: dict[str, int] = {}
        if not values:
            return removed
        wanted = pa.array(sorted(values), type=pa.string())
        for key in self.files(spec):
            table = self.read_table(key)
            hit = pc.is_in(table.column(column), value_set=wanted)
            n = pc.sum(hit).as_py() or 0
            if not n:
                continue
            kept = table.filter(pc.invert(hit))
            if kept.num_rows:
                # A new name: readers that track files (LivePlan) take a vanished file as a rebuild.
                self._write_table(spec, kept, posixpath.dirname(key))
            self.store.remove(key)
            removed[key] = n
        return removed

    def rewrite_values(self, spec: TableSpec, tenant: str, columns: Sequence[str],
                       change: Callable[[str], str]) -> int:
        """Rewrite the tenant's files with `change` applied to each value of the string
        `columns` (a metadata JSON whole), durably; the rows and so the file names stay.
        Returns how many files changed."""
        changed = 0
        for key in self.files(spec):
            if f"tenant={tenant}" not in key.split("/"):
                continue
            table = self.read_table(key)
            new = table
            for name in columns:
                if name not in table.column_names:
                    continue
                values = table.column(name).to_pylist()
                after = [change(v) if isinstance(v, str) and v else v for v in values]
                if after != values:
                    at = table.column_names.index(name)
                    new = new.set_column(at, table.schema.field(at), pa.array(after, type=table.schema.field(at).type))
            if new is not table:
                if self._write_table(spec, new, posixpath.dirname(key)) != key:  # same rows: same name, mostly
                    self.store.remove(key)
                changed += 1
        return changed

    def drop(self, spec: TableSpec) -> None:
        """Remove a table (a projection that is about to be rebuilt)."""
        self.store.remove_tree(spec.name)
