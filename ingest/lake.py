"""The Parquet lake: tables of hive-partitioned files, `region=/tenant=/date=`.

Files are written durably (temp file, fsync, atomic rename, fsync of the folder)
so that a Kafka offset committed after `write` never covers a row that could be
lost. DuckDB reads the tables through pyarrow datasets, so no SQL is ever built
from paths or keys.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import shutil
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
from governance.names import valid_name
from governance.residency import ResidencyPolicy
from ingest import duck
from ingest.errors import LakeError

log = logging.getLogger(__name__)

TS = pa.timestamp("us", tz="UTC")


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
    audited, and the caller dead-letters it in an allowed region."""

    def __init__(self, root: Path, *, residency: ResidencyPolicy | None = None,
                 audit: AuditLog | None = None) -> None:
        # Absolute: blob paths become file URIs in dead letters.
        self.root, self.residency, self.audit = Path(root).absolute(), residency, audit
        self._checked: set[tuple[str, int, int]] = set()  # files whose footer was read: (path, size, mtime)

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
            raise

    def path(self, spec: TableSpec) -> Path:
        return self.root / spec.name

    def files(self, spec: TableSpec) -> list[Path]:
        """The table's readable files. A corrupt or truncated file is moved aside (see
        `quarantine`) instead of failing every query of every tenant: the lake is a
        projection, and the next run rebuilds what the file held (the scan republishes
        documents the raw lake lacks; pending events are chunked again)."""
        base = self.path(spec)
        found = sorted(base.rglob("*.parquet")) if base.exists() else []
        return [f for f in found if self._readable(spec, f)]

    def _readable(self, spec: TableSpec, path: Path) -> bool:
        try:
            st = path.stat()
        except FileNotFoundError:  # compacted or quarantined by another process meanwhile
            return False
        key = (str(path), st.st_size, st.st_mtime_ns)
        if key in self._checked:
            return True
        try:
            schema = pq.read_schema(path)  # reads the footer: a truncated or garbled file fails here
        except (OSError, pa.ArrowException) as exc:
            self.quarantine(spec, path, f"{type(exc).__name__}: {exc}")
            return False
        if spec.key not in schema.names:
            self.quarantine(spec, path, f"no {spec.key!r} column: not a file of the {spec.name} table")
            return False
        self._checked.add(key)
        return True

    def quarantine(self, spec: TableSpec, path: Path, reason: str) -> None:
        """Move an unreadable file to <lake>/quarantine/<table>/..., audited and logged."""
        target = self.root / "quarantine" / path.relative_to(self.root)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(path, target)
        except FileNotFoundError:
            return  # another process moved it first
        log.warning("lake file %s cannot be read (%s); moved to %s, the next run rebuilds what it held",
                    path, reason, target)
        if self.audit is not None:
            self.audit.append("lake.quarantined", str(path.relative_to(self.root)), sink=f"lake/{spec.name}",
                              moved_to=str(target), reason=reason)

    def write(self, spec: TableSpec, rows: list[dict[str, Any]]) -> list[Path]:
        """Write rows durably, one file per partition; return the files written.
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
            folder = self.path(spec) / f"region={region}" / f"tenant={tenant}" / f"date={day}"
            digest = hashlib.sha256("\n".join(str(r[spec.key]) for r in part).encode()).hexdigest()
            target = folder / f"part-{digest[:20]}.parquet"
            try:
                table = pa.Table.from_pylist(part, schema=spec.schema)
            except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError) as exc:
                raise LakeError(f"rows do not match the {spec.name} table schema: {exc}") from exc
            _write_durable(table, target)
            st = target.stat()
            self._checked.add((str(target), st.st_size, st.st_mtime_ns))
            written.append(target)
        return written

    def store_blob(self, region: str, tenant: str, data: bytes, *, jurisdiction: str = "") -> Path:
        """Keep the bytes of a failing input, content-addressed, in its region."""
        if self.residency is not None and jurisdiction:
            self.residency.check(jurisdiction, region)
        digest = hashlib.sha256(data).hexdigest()
        if not all(valid_name(n) for n in (region or "unassigned", tenant or "unassigned")):
            raise LakeError(f"dead-letter copy for region {region!r}, tenant {tenant!r}: not plain names")
        target = self.root / "dead_letter_blobs" / f"region={region or 'unassigned'}" / \
            f"tenant={tenant or 'unassigned'}" / digest[:2] / digest
        if not target.exists():
            write_bytes_durable(data, target)
        return target

    def dataset(self, spec: TableSpec) -> ds.Dataset:
        return ds.dataset([str(f) for f in self.files(spec)], schema=spec.schema, format="parquet")

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
        return set(self.dataset(spec).to_table(columns=[spec.key]).column(spec.key).to_pylist())

    def remove_rows(self, spec: TableSpec, column: str, values: set[str]) -> dict[str, int]:
        """Rewrite every file holding rows whose `column` is in `values` without them,
        durably and under a new name (a file left empty is just removed). Returns
        file -> rows removed."""
        removed: dict[str, int] = {}
        if not values:
            return removed
        wanted = pa.array(sorted(values), type=pa.string())
        for path in self.files(spec):
            table = pq.read_table(path)
            hit = pc.is_in(table.column(column), value_set=wanted)
            n = pc.sum(hit).as_py() or 0
            if not n:
                continue
            kept = table.filter(pc.invert(hit))
            if kept.num_rows:
                # A new name: readers that track files (LivePlan) take a vanished file as a rebuild.
                keys = "\n".join(str(k) for k in kept.column(spec.key).to_pylist())
                _write_durable(kept, path.with_name(f"part-{hashlib.sha256(keys.encode()).hexdigest()[:20]}.parquet"))
            path.unlink()
            _fsync_dir(path.parent)
            removed[str(path.relative_to(self.root))] = n
        return removed

    def drop(self, spec: TableSpec) -> None:
        """Remove a table (a projection that is about to be rebuilt)."""
        if self.path(spec).exists():
            shutil.rmtree(self.path(spec))


def _write_durable(table: pa.Table, target: Path) -> None:
    _durably(target, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def write_bytes_durable(data: bytes, target: Path) -> None:
    _durably(target, lambda tmp: tmp.write_bytes(data))


def _durably(target: Path, write: Callable[[Path], object]) -> None:
    """Write through a temp file, fsync it, rename it into place, fsync the folder.
    The temp file is this writer's own: two runs on one home land the same rows under
    the same derived name, and the second rename then replaces an identical file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(6)}.tmp")
    try:
        write(tmp)
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise LakeError(f"cannot write lake file {target}: {exc}") from exc



def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
