"""The vector index: one protocol, and Qdrant Edge (in-process) as the embedded default.

One collection per region and model fingerprint, so residency is a matter of
which collection a point goes to, and vectors of two models never mix. Each
collection is a Qdrant Edge shard in its own folder under the index root.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from qdrant_edge import (
    CountRequest,
    Distance,
    EdgeConfig,
    EdgeShard,
    EdgeVectorParams,
    FieldCondition,
    Filter,
    MatchValue,
    PayloadSchemaType,
    Point,
    Query,
    QueryRequest,
    ScrollRequest,
    UpdateOperation,
)

log = logging.getLogger(__name__)

DENSE = "dense"
KEYWORD_FIELDS = ("tenant", "document_id", "jurisdiction", "region", "screening")
SCROLL_PAGE = 2_000
UPSERT_BATCH = 256
_SAFE = re.compile(r"[^a-z0-9-]")


@dataclass(frozen=True)
class IndexPoint:
    id: str
    vector: Sequence[float]
    payload: dict[str, Any]


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    payload: dict[str, Any]


class VectorIndex(Protocol):
    """What the factory needs of a vector index; every adapter passes the same tests."""

    def upsert(self, region: str, points: Sequence[IndexPoint]) -> None: ...
    def delete(self, region: str, ids: Iterable[str]) -> None: ...
    def ids(self, region: str) -> set[str]: ...
    def digests(self, region: str) -> dict[str, str]: ...
    def set_payloads(self, region: str, payloads: dict[str, dict[str, Any]]) -> None: ...
    def regions(self) -> list[str]: ...
    def count(self, region: str, *, tenant: str | None = None) -> int: ...
    def search(self, region: str, vector: Sequence[float], *, tenant: str, top_k: int,
               include_quarantined: bool = False) -> list[Hit]: ...
    def points(self, region: str) -> list[Hit]: ...
    def close(self) -> None: ...


def collection_name(region: str, model_id: str) -> str:
    return f"chunks__{_SAFE.sub('-', region.lower())}__{_SAFE.sub('-', model_id.lower())}"


def tenant_filter(tenant: str, *, include_quarantined: bool = True) -> Filter:
    """The tenant condition every search carries; quarantined chunks are left out
    unless asked for."""
    # A keyword, not the bool: qdrant-edge-py 0.9 never matches a bool payload value.
    must_not: list[Any] = [] if include_quarantined else [
        FieldCondition(key="screening", match=MatchValue("quarantined"))]
    return Filter(must=[FieldCondition(key="tenant", match=MatchValue(tenant))], must_not=must_not or None)


class EdgeIndex:
    """Qdrant Edge shards under `root`, one per region, for one model."""

    def __init__(self, root: Path, *, model_id: str, dimension: int) -> None:
        self.root, self.model_id, self.dimension = root, model_id, dimension
        self._shards: dict[str, EdgeShard] = {}

    def _path(self, region: str) -> Path:
        return self.root / collection_name(region, self.model_id)

    def _shard(self, region: str, *, create: bool) -> EdgeShard | None:
        if region in self._shards:
            return self._shards[region]
        path = self._path(region)
        if (path / "edge_config.json").exists() or (path.exists() and any(path.iterdir())):
            shard = EdgeShard.load(str(path))
        elif create:
            path.mkdir(parents=True, exist_ok=True)
            shard = EdgeShard.create(str(path), EdgeConfig(
                vectors={DENSE: EdgeVectorParams(size=self.dimension, distance=Distance.Cosine)}))
            for name in KEYWORD_FIELDS:
                shard.update(UpdateOperation.create_field_index(name, PayloadSchemaType.Keyword))
        else:
            return None
        self._shards[region] = shard
        return shard

    def regions(self) -> list[str]:
        suffix = f"__{_SAFE.sub('-', self.model_id.lower())}"
        if not self.root.exists():
            return []
        return sorted(p.name.split("__")[1] for p in self.root.iterdir()
                      if p.is_dir() and p.name.startswith("chunks__") and p.name.endswith(suffix))

    def upsert(self, region: str, points: Sequence[IndexPoint]) -> None:
        shard = self._shard(region, create=True)
        assert shard is not None
        for start in range(0, len(points), UPSERT_BATCH):
            batch = points[start:start + UPSERT_BATCH]
            shard.update(UpdateOperation.upsert_points(
                [Point(p.id, {DENSE: [float(x) for x in p.vector]}, p.payload) for p in batch]))
        shard.flush()

    def delete(self, region: str, ids: Iterable[str]) -> None:
        shard = self._shard(region, create=False)
        todo: list[Any] = list(ids)
        if shard is None or not todo:
            return
        shard.update(UpdateOperation.delete_points(todo))
        shard.flush()

    def _scroll(self, region: str, *, with_payload: bool | list[str]) -> list[Any]:
        shard = self._shard(region, create=False)
        if shard is None:
            return []
        records: list[Any] = []
        offset = None
        while True:
            page, offset = shard.scroll(ScrollRequest(offset=offset, limit=SCROLL_PAGE,
                                                      with_payload=with_payload, with_vector=False))
            records.extend(page)
            if offset is None:
                return records

    def ids(self, region: str) -> set[str]:
        return {str(r.id) for r in self._scroll(region, with_payload=False)}

    def digests(self, region: str) -> dict[str, str]:
        records = self._scroll(region, with_payload=["digest"])
        return {str(r.id): str((r.payload or {}).get("digest", "")) for r in records}

    def set_payloads(self, region: str, payloads: dict[str, dict[str, Any]]) -> None:
        shard = self._shard(region, create=False)
        if shard is None:
            return
        for pid, body in payloads.items():
            shard.update(UpdateOperation.overwrite_payload([pid], body))
        shard.flush()

    def points(self, region: str) -> list[Hit]:
        return [Hit(str(r.id), 0.0, dict(r.payload or {})) for r in self._scroll(region, with_payload=True)]

    def count(self, region: str, *, tenant: str | None = None) -> int:
        shard = self._shard(region, create=False)
        if shard is None:
            return 0
        return int(shard.count(CountRequest(exact=True, filter=tenant_filter(tenant) if tenant else None)))

    def search(self, region: str, vector: Sequence[float], *, tenant: str, top_k: int,
               include_quarantined: bool = False) -> list[Hit]:
        shard = self._shard(region, create=False)
        if shard is None:
            return []
        found = shard.query(QueryRequest(limit=top_k, query=Query.Nearest(list(vector), using=DENSE),
                                         filter=tenant_filter(tenant, include_quarantined=include_quarantined),
                                         with_payload=True))
        return [Hit(str(p.id), float(p.score), dict(p.payload or {})) for p in found]

    def close(self) -> None:
        for shard in self._shards.values():
            shard.close()
        self._shards.clear()
