"""Repair of lake tables that hold a row key more than once.

An older version let two runs write one home at once: each landed the other's rows
again, so a key sat in two part files of a folder (issue 21), and a crash between a
compaction's write and its removals leaves the same. Landing skips keys the lake
holds, so a rerun never folds such copies; this does, with the compaction
(compaction.py), under the writer lock.

A key can also sit in two folders of a table: the `date=` folder comes from the
row's time column (`Lake.write`), and two copies of one key can carry different
times (the two runs each stamped the event when they scanned it; a dead letter
retried another day). So the folders are found per key, across the table: the
copy in the earliest folder is kept, the others are removed from their folders.

Nothing else changes: the index is keyed by point id and cannot hold a point twice
(`aifactory index` re-checks it against the repaired chunks lake), and the usage
ledger is an append-only bill, never rewritten (the report says, per tenant, how
many rows were dropped, for a biller to compare with its `ingest` and `chunking`
counts).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath as Key
from typing import Any

from governance.errors import ResidencyError
from ingest.lake import Lake, TableSpec
from ingest.lake_reads import RepeatedKey, repeated_key_files, repeated_keys, row_count
from ingest.tables import DEAD_LETTERS, RAW
from pipeline.compaction import compact_folder
from pipeline.factory import Factory
from transforms.tables import CHUNKS

TABLES = (RAW, CHUNKS, DEAD_LETTERS)

Say = Callable[[str], object]


def repeated_rows(lake: Lake) -> dict[str, int]:
    """Per lake table, the rows whose key is stored again (one DuckDB query per table)."""
    return {spec.name: repeated_keys(lake, spec) for spec in TABLES}


@dataclass
class TableRepair:
    """One table: its rows before and after, and the folders that held a key twice
    (relative to the lake). In a dry run, `rows_after` is what a repair would leave."""

    rows_before: int = 0
    rows_after: int = 0
    repeated: int = 0  # copies of a key beyond the first: the rows a repair drops
    folders: list[str] = field(default_factory=list)
    dropped_by_tenant: dict[str, int] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  # folders left for residency review, with the reason


@dataclass
class Repair:
    dry_run: bool
    tables: dict[str, TableRepair]

    @property
    def folders(self) -> int:
        return sum(len(t.folders) - len(t.refused) for t in self.tables.values())

    @property
    def repeated(self) -> int:
        return sum(t.repeated for t in self.tables.values())

    @property
    def dropped(self) -> int:
        """Rows removed (in a dry run, that a repair would remove)."""
        return sum(t.rows_before - t.rows_after for t in self.tables.values())

    @property
    def chunks_changed(self) -> bool:
        return not self.dry_run and self.tables[CHUNKS.name].rows_after != self.tables[CHUNKS.name].rows_before

    def as_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "folders": self.folders, "repeated": self.repeated, "dropped": self.dropped,
                "tables": {name: asdict(t) for name, t in self.tables.items()},
                "index": "untouched: it is keyed by point id and cannot hold a point twice; `aifactory index` "
                         "re-checks it against the repaired chunks lake" if self.chunks_changed else "untouched",
                "ledger": "not rewritten (append-only); `dropped_by_tenant` is what its ingest and chunking "
                          "counts overstate, where the older version billed the copies"}


def repair(factory: Factory, *, dry_run: bool = False, say: Say | None = None) -> Repair:
    """Fold every row key stored more than once in a lake table; `dry_run` only reports.
    Idempotent: a second repair finds nothing."""
    if dry_run:
        return Repair(dry_run=True, tables={spec.name: _table(factory, spec, dry_run=True, say=say)
                                            for spec in TABLES})
    with factory.writing(say=say):
        return Repair(dry_run=False, tables={spec.name: _table(factory, spec, dry_run=False, say=say)
                                             for spec in TABLES})


def _table(factory: Factory, spec: TableSpec, *, dry_run: bool, say: Say | None) -> TableRepair:
    lake = factory.lake
    repeated = repeated_key_files(lake, spec)
    rows = row_count(lake, spec)
    done = TableRepair(rows_before=rows, rows_after=rows, repeated=sum(len(r.files) - 1 for r in repeated))
    if not repeated:
        return done
    dropped: Counter[str] = Counter()
    for r in repeated:
        dropped[_tenant(_keeper(r))] += len(r.files) - 1
    done.dropped_by_tenant = dict(sorted(dropped.items()))
    for folder, drop in sorted(_plan(repeated).items()):
        name = str(folder)
        done.folders.append(name)
        files = len(lake.files(spec, str(folder)))
        moved = f"; {len(drop)} key(s) kept in an earlier folder dropped here" if drop else ""
        if dry_run:
            _say(say, f"{name}: {files} file(s), would fold{moved}")
            continue
        try:
            compact_folder(factory, spec, str(folder))  # the files merged, rows unique by key
            for key in lake.files(spec, str(folder)):
                _rewrite(lake, spec, key, drop)
        except ResidencyError as exc:  # a record in the wrong region: leave it for residency_compliance
            done.refused.append(f"{name}: {exc}")
            _say(say, f"{name}: left as it is ({exc})")
            continue
        _say(say, f"{name}: {files} file(s) folded into {len(lake.files(spec, str(folder)))}{moved}")
    done.rows_after = done.rows_before - done.repeated if dry_run else row_count(lake, spec)
    return done


def _plan(repeated: list[RepeatedKey]) -> dict[Key, set[str]]:
    """Folder -> the keys to drop there, for every folder holding a copy of a repeated key."""
    plan: dict[Key, set[str]] = {}
    for r in repeated:
        keeper = _keeper(r)
        plan.setdefault(keeper, set())
        for file in r.files:
            if Key(file).parent != keeper:
                plan.setdefault(Key(file).parent, set()).add(r.key)
    return plan


def _keeper(r: RepeatedKey) -> Key:
    """The folder whose copy is kept: the earliest `date=`, then by region and tenant."""
    return min((Key(f).parent for f in r.files), key=lambda f: (f.name, str(f)))


def _tenant(folder: Key) -> str:
    return folder.parent.name.removeprefix("tenant=")


def _rewrite(lake: Lake, spec: TableSpec, key: str, drop: set[str]) -> None:
    """Write file `key` again without the keys in `drop` and with each key once (a file the
    compaction could not fold: the folder's only one); a file left empty is removed."""
    rows = lake.read_table(key, schema=spec.schema).to_pylist()
    kept: dict[Any, dict[str, Any]] = {}
    for row in rows:
        if row[spec.key] not in drop:
            kept.setdefault(row[spec.key], row)
    if len(kept) == len(rows):
        return
    if key not in (lake.write(spec, list(kept.values())) if kept else []):
        lake.remove(key)


def _say(say: Say | None, text: str) -> None:
    if say is not None:
        say(text)
