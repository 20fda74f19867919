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
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from governance.releases import Releases
from vectorstore.index import VectorIndex

FULL_RECONCILE_S = 3600.0


def segment(key: str, name: str) -> str | None:
    """A lake file's partition value (`tenant`, `region`) from its path."""
    return next((part[len(name) + 1:] for part in key.split("/") if part.startswith(name + "=")), None)


def tenant_of(key: str) -> str | None:
    """The tenant a chunk-lake file belongs to (its `tenant=` segment)."""
    return segment(key, "tenant")


def pairs_of(files: Collection[str]) -> set[tuple[str, str]]:
    """The (tenant, region) partitions `files` sit in, read from their paths alone."""
    return {(t, r) for f in files if (t := segment(f, "tenant")) and (r := segment(f, "region"))}


@dataclass(frozen=True)
class Scope:
    """What a one-shot sync compares: None for everything, else these tenants' files."""

    tenants: frozenset[str] | None
    files: list[str]  # the chunk-lake files now (all of them)
    added: list[str] = field(default_factory=list)  # those since the checkpoint (with `tenants`)
    reviewed: frozenset[str] = frozenset()  # tenants with a release decision since (in `tenants`)
    releases_at: int = 0  # the size of the releases file this sync read

    def tenant_files(self) -> list[str] | None:
        if self.tenants is None:
            return None
        return [f for f in self.files if tenant_of(f) in self.tenants]


class SyncCheckpoint:
    def __init__(self, home: Path, model_id: str) -> None:
        self.path = home / "state" / f"index-sync-{model_id}.json"
        self.model_id = model_id

    def scope(self, files: Collection[str], index: VectorIndex, releases: Releases | None = None) -> Scope:
        now = sorted(files)
        at = releases.size() if releases is not None else 0
        try:
            seen = json.loads(self.path.read_text())
            kept, counts, full_at = set(seen["files"]), dict(seen["counts"]), float(seen["full_at"])
            saw = int(seen.get("releases_at", 0))
        except (OSError, ValueError, KeyError, TypeError):
            return Scope(None, now, releases_at=at)
        if time.time() - full_at > FULL_RECONCILE_S or not kept <= set(now) or at < saw:
            return Scope(None, now, releases_at=at)
        if {r: index.count(r) for r in index.regions()} != {r: n for r, n in counts.items() if n}:
            return Scope(None, now, releases_at=at)
        added = [f for f in now if f not in kept]
        reviewed = frozenset(r.tenant for r in releases.since(saw)) if releases is not None and at > saw \
            else frozenset()
        return Scope(frozenset(t for f in added if (t := tenant_of(f))) | reviewed, now, added, reviewed, at)

    def save(self, scope: Scope, index: VectorIndex, folded: Mapping[str, int] | None = None, *,
             complete: bool = False) -> None:
        """After a finished sync: what it saw, and the index it left. `folded` is the chunks
        folded into another chunk's point per tenant, as the sync's plan said: for every
        tenant when the scope is everything or the plan `complete`, else for the scope's
        tenants (the others keep what the checkpoint held)."""
        full_at = time.time()
        try:
            seen = json.loads(self.path.read_text())
        except (OSError, ValueError):
            seen = {}
        if scope.tenants is not None:
            try:
                full_at = float(seen["full_at"])
            except (KeyError, TypeError, ValueError):
                full_at = 0.0
        whole = scope.tenants is None or complete
        duplicates = {} if whole or not isinstance(seen.get("duplicates"), dict) else dict(seen["duplicates"])
        if not whole:
            duplicates.update({t: 0 for t in scope.tenants or ()})
        duplicates.update(folded or {})
        body = {"files": scope.files, "counts": {r: index.count(r) for r in index.regions()}, "full_at": full_at,
                "releases_at": scope.releases_at,
                "duplicates": {t: n for t, n in sorted(duplicates.items()) if n}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(body))
        os.replace(tmp, self.path)

    def duplicates(self) -> int | None:
        """Chunks folded into another chunk's point, as of the last finished sync; None if unknown."""
        try:
            seen = json.loads(self.path.read_text())
            return sum(int(n) for n in seen["duplicates"].values())
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)
