"""Lake compaction: the small Parquet files of one partition folder merged into one,
rows unique by key; readers see the same rows, faster."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from governance.errors import ResidencyError
from ingest.lake import TableSpec
from ingest.tables import DEAD_LETTERS, RAW
from pipeline.factory import Factory
from transforms.tables import CHUNKS

COUNTS = ("files_before", "files_after", "rows", "repeated_rows_dropped", "changed_meanwhile")


def compact_folder(factory: Factory, spec: TableSpec, folder: str) -> dict[str, int]:
    """Merge the files of one lake partition folder into one, rows unique by key.
    The merged file is durable before the old ones go; a crash in between leaves
    rows twice (duplicate_ratio fails) until the next compaction folds them. If a
    file was rewritten meanwhile (erasure, deletes), the merge is dropped: erased
    rows must not come back. Callers hold the writer lock (writer.py), so no run,
    delete or erasure rewrites the folder meanwhile; the check stays for files
    written by an older version without the lock."""
    lake = factory.lake
    files = lake.files(spec, folder)
    if len(files) < 2:
        return {"files_before": len(files), "files_after": len(files), "rows": 0, "repeated_rows_dropped": 0,
                "changed_meanwhile": 0}
    rows: dict[Any, dict[str, Any]] = {}
    total = 0
    for key in files:
        for row in lake.read_table(key, schema=spec.schema).to_pylist():
            total += 1
            rows.setdefault(row[spec.key], row)
    written = set(lake.write(spec, list(rows.values())))
    if not all(lake.exists(k) for k in files):
        # Rewritten meanwhile (an erasure or delete removed rows): keep its result, not ours,
        # so erased rows never come back. The next compaction tries again.
        for key in written - set(files):
            lake.remove(key)
        return {"files_before": len(files), "files_after": len(files), "rows": 0, "repeated_rows_dropped": 0,
                "changed_meanwhile": 1}
    for key in files:
        if key not in written:
            lake.remove(key)
    return {"files_before": len(files), "files_after": len(written), "rows": len(rows),
            "repeated_rows_dropped": total - len(rows), "changed_meanwhile": 0}


@dataclass
class Compaction:
    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    refused: list[str] = field(default_factory=list)  # folders left for residency review, with the reason


def compact_partition(factory: Factory, *, day: str, region: str) -> Compaction:
    """Compact every tenant's folder of one day and region, in every lake table."""
    with factory.writing():
        return _compact_partition(factory, day=day, region=region)


def _compact_partition(factory: Factory, *, day: str, region: str) -> Compaction:
    done = Compaction()
    for spec in (RAW, CHUNKS, DEAD_LETTERS):
        folders = {posixpath.dirname(k) for k in factory.lake.files(spec)
                   if k.split("/")[1::2] == [f"region={region}", f"date={day}"]}
        for folder in sorted(folders):
            try:
                counts = compact_folder(factory, spec, folder)
            except ResidencyError as exc:  # a record in the wrong region: leave it for residency_compliance
                done.refused.append(f"{folder}: {exc}")
                continue
            for k, v in counts.items():
                done.totals[k] += v
    return done
