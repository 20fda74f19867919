"""What the last finished index sync of a data directory saw, so that the next one-shot
sync reads only the tenants whose chunks changed since.

Chunk-lake files are written once under a name of their own and never change; a run
adds files. The checkpoint keeps the files the last sync planned from and each region's
point count after it. The next sync plans only the tenants of the files added since
(every region of each: a document whose jurisdiction changed moves between regions) and
compares only their points. It compares everything instead when there is no checkpoint,
when a file it saw is gone (compaction, repair, replay and erasure rewrite the table),
when a region's point count is not what it left (another writer, a restored index), and
at least every FULL_RECONCILE_S.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from vectorstore.index import VectorIndex

FULL_RECONCILE_S = 3600.0


def tenant_of(key: str) -> str | None:
    """The tenant a chunk-lake file belongs to (its `tenant=` segment)."""
    return next((part[len("tenant="):] for part in key.split("/") if part.startswith("tenant=")), None)


@dataclass(frozen=True)
class Scope:
    """What a one-shot sync compares: None for everything, else these tenants' files."""

    tenants: frozenset[str] | None
    files: list[str]  # the chunk-lake files now (all of them)

    def tenant_files(self) -> list[str] | None:
        if self.tenants is None:
            return None
        return [f for f in self.files if tenant_of(f) in self.tenants]


class SyncCheckpoint:
    def __init__(self, home: Path, model_id: str) -> None:
        self.path = home / "state" / f"index-sync-{model_id}.json"
        self.model_id = model_id

    def scope(self, files: Collection[str], index: VectorIndex) -> Scope:
        now = sorted(files)
        try:
            seen = json.loads(self.path.read_text())
            kept, counts, full_at = set(seen["files"]), dict(seen["counts"]), float(seen["full_at"])
        except (OSError, ValueError, KeyError, TypeError):
            return Scope(None, now)
        if time.time() - full_at > FULL_RECONCILE_S or not kept <= set(now):
            return Scope(None, now)
        if {r: index.count(r) for r in index.regions()} != {r: n for r, n in counts.items() if n}:
            return Scope(None, now)
        return Scope(frozenset(t for f in now if f not in kept and (t := tenant_of(f))), now)

    def save(self, scope: Scope, index: VectorIndex) -> None:
        """After a finished sync: what it saw, and the index it left."""
        full_at = time.time()
        if scope.tenants is not None:
            try:
                full_at = float(json.loads(self.path.read_text())["full_at"])
            except (OSError, ValueError, KeyError, TypeError):
                full_at = 0.0
        body = {"files": scope.files, "counts": {r: index.count(r) for r in index.regions()}, "full_at": full_at}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(body))
        os.replace(tmp, self.path)

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)
