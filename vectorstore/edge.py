"""The Qdrant Edge adapter: each collection is an in-process shard in its own
folder under the index root."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

from qdrant_edge import (
    CountRequest,
    Distance,
    EdgeConfig,
    EdgeShard,
    EdgeSparseVectorParams,
    EdgeVectorParams,
    FieldCondition,
    Filter,
    Fusion,
    MatchAny,
    MatchValue,
    Modifier,
    PayloadSchemaType,
    Point,
    Prefetch,
    QuantizationSearchParams,
    QueryRequest,
    RangeDateTime,
    RangeFloat,
    ScalarQuantizationConfig,
    ScalarType,
    ScrollRequest,
    SearchParams,
    SparseVector,
    UpdateOperation,
)
from qdrant_edge import Query as EdgeQuery

from vectorstore.errors import VectorStoreError
from vectorstore.filters import Condition
from vectorstore.index import (
    DENSE,
    HYBRID_DEPTH,
    KEYWORD_FIELDS,
    RESCORE_OVERSAMPLING,
    RRF_K,
    SCROLL_PAGE,
    UPSERT_BATCH,
    Hit,
    IndexPoint,
    Query,
    ScrollingIndex,
    collection_name,
    conditions,
    dense_of,
    regions_of,
    stored,
)
from vectorstore.sparse import SPARSE, Sparse

log = logging.getLogger(__name__)


def _condition(c: Condition) -> FieldCondition:
    if c.bounds:
        bounds = dict(c.bounds)
        # Bounds are times for dates and numbers otherwise (filters.py makes them so).
        return FieldCondition(key=c.field, range=RangeDateTime(**bounds) if c.dates  # type: ignore[arg-type]
                              else RangeFloat(**bounds))  # type: ignore[arg-type]
    if len(c.values) == 1:
        return FieldCondition(key=c.field, match=MatchValue(c.values[0]))
    return FieldCondition(key=c.field, match=MatchAny(list(c.values)))


def _filter(query: Query) -> Filter:
    must, must_not = conditions(query)
    return Filter(must=[_condition(c) for c in must], must_not=[_condition(c) for c in must_not] or None)


class IndexBusyError(VectorStoreError, RuntimeError):
    """The embedded index is held by another process: Qdrant Edge has one writer."""


class EdgeIndex(ScrollingIndex):
    """Qdrant Edge shards under `root`, one per region, for one model."""

    def __init__(self, root: Path, *, model_id: str, dimension: int, quantization: str = "none") -> None:
        self.root, self.model_id, self.dimension = root, model_id, dimension
        self.quantization = quantization  # of the shards this creates; a shard keeps the one it was made with
        self._shards: dict[str, EdgeShard] = {}
        self._params: dict[str, SearchParams | None] = {}  # region -> how its shard is searched

    def _path(self, region: str) -> Path:
        return self.root / collection_name(region, self.model_id)

    def _shard(self, region: str, *, create: bool) -> EdgeShard | None:
        if region in self._shards:
            return self._shards[region]
        path = self._path(region)
        if not create and not path.exists():
            return None
        self.root.mkdir(parents=True, exist_ok=True)
        # Opening and creating are one step across processes: two runs creating one shard at
        # once would otherwise meet a half-made folder (an IO error instead of "busy").
        with (self.root / f".{path.name}.open.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            shard = self._open(path, create=create)
        if shard is not None:
            self._shards[region] = shard
        return shard

    def _open(self, path: Path, *, create: bool) -> EdgeShard | None:
        if path.exists() and any(path.iterdir()):
            try:
                return EdgeShard.load(str(path))
            except Exception as exc:
                if "WouldBlock" in str(exc):  # the shard's WAL is locked by another process
                    raise IndexBusyError(
                        f"the embedded index {path} is open in another process (`aifactory serve`, or another "
                        "run on this data directory); stop it first, or point both at a Qdrant server with "
                        "QDRANT_URL") from exc
                raise
        if not create:
            return None
        path.mkdir(parents=True, exist_ok=True)
        int8 = ScalarQuantizationConfig(type=ScalarType.Int8, quantile=0.99, always_ram=True) \
            if self.quantization == "int8" else None
        shard = EdgeShard.create(str(path), EdgeConfig(
            vectors={DENSE: EdgeVectorParams(size=self.dimension, distance=Distance.Cosine, quantization_config=int8)},
            sparse_vectors={SPARSE: EdgeSparseVectorParams(modifier=Modifier.Idf)}))
        for name in KEYWORD_FIELDS:
            shard.update(UpdateOperation.create_field_index(name, PayloadSchemaType.Keyword))
        return shard

    def regions(self) -> list[str]:
        return regions_of((p.name for p in self.root.iterdir() if p.is_dir()), self.model_id) \
            if self.root.exists() else []

    def upsert(self, region: str, points: Sequence[IndexPoint]) -> None:
        shard = self._shard(region, create=True)
        assert shard is not None
        for start in range(0, len(points), UPSERT_BATCH):
            batch = []
            for p in points[start:start + UPSERT_BATCH]:
                vectors: dict[str, Any] = {DENSE: [float(x) for x in p.vector]}
                if p.sparse is not None:
                    vectors[SPARSE] = SparseVector(p.sparse.indices, p.sparse.values)
                batch.append(Point(p.id, vectors, stored(p.payload)))
            shard.update(UpdateOperation.upsert_points(batch))

    def delete(self, region: str, ids: Iterable[str]) -> None:
        shard = self._shard(region, create=False)
        todo: list[Any] = list(ids)
        if shard is None or not todo:
            return
        shard.update(UpdateOperation.delete_points(todo))

    def _scroll(self, region: str, *, with_payload: bool | list[str], tenant: str | None = None,
                documents: Collection[str] | None = None) -> list[Any]:
        shard = self._shard(region, create=False)
        if shard is None or (documents is not None and not documents):
            return []
        must: list[Any] = [FieldCondition(key="tenant", match=MatchValue(tenant))] if tenant else []
        if documents is not None:
            must.append(FieldCondition(key="document_id", match=MatchAny(sorted(documents))))
        flt = Filter(must=must) if must else None
        records: list[Any] = []
        offset = None
        while True:
            page, offset = shard.scroll(ScrollRequest(offset=offset, limit=SCROLL_PAGE, filter=flt,
                                                      with_payload=with_payload, with_vector=False))
            records.extend(page)
            if offset is None:
                return records

    def retrieve(self, region: str, ids: list[str]) -> list[Hit]:
        shard = self._shard(region, create=False)
        if shard is None or not ids:
            return []
        return [Hit(str(r.id), 0.0, dict(r.payload or {})) for r in shard.retrieve(list(ids), True, False)]

    def set_payloads(self, region: str, payloads: dict[str, dict[str, Any]]) -> None:
        shard = self._shard(region, create=False)
        if shard is None:
            return
        for pid, body in payloads.items():
            shard.update(UpdateOperation.overwrite_payload([pid], stored(body)))

    def count(self, region: str, *, tenant: str | None = None, document_id: str | None = None) -> int:
        shard = self._shard(region, create=False)
        if shard is None:
            return 0
        must: list[Any] = [FieldCondition(key=k, match=MatchValue(v)) for k, v in (("tenant", tenant),
                                                                                     ("document_id", document_id)) if v]
        flt = Filter(must=must) if must else None
        return int(shard.count(CountRequest(exact=True, filter=flt)))

    def search(self, region: str, query: Query) -> list[Hit]:
        shard = self._shard(region, create=False)
        if shard is None:
            return []
        flt = _filter(query)
        want = [DENSE] if query.with_vectors else False
        params = self._search_params(region)
        dense = EdgeQuery.Nearest([float(x) for x in query.dense], using=DENSE)
        if query.mode == "hybrid" and query.sparse is not None:
            depth = query.top_k * HYBRID_DEPTH
            sparse = EdgeQuery.Nearest(SparseVector(query.sparse.indices, query.sparse.values), using=SPARSE)
            fusion: Any = Fusion.Rrf(k=RRF_K)  # the stub types Rrf apart from Fusion
            request = QueryRequest(limit=query.top_k, query=fusion, with_payload=True, with_vector=want,
                                   prefetches=[Prefetch(limit=depth, query=dense, filter=flt, params=params),
                                               Prefetch(limit=depth, query=sparse, filter=flt)])
        elif query.mode == "keyword" and query.sparse is not None:
            sparse = EdgeQuery.Nearest(SparseVector(query.sparse.indices, query.sparse.values), using=SPARSE)
            request = QueryRequest(limit=query.top_k, query=sparse, filter=flt, with_payload=True, with_vector=want)
        else:
            request = QueryRequest(limit=query.top_k, query=dense, filter=flt, with_payload=True, with_vector=want,
                                   params=params)
        return [Hit(str(p.id), float(p.score), dict(p.payload or {}), dense_of(p.vector))
                for p in shard.query(request)]

    def _search_params(self, region: str) -> SearchParams | None:
        """Rescoring for a quantised shard (as its edge_config.json says it was made), else none."""
        if region not in self._params:
            try:
                config = json.loads((self._path(region) / "edge_config.json").read_text())
                quantized = bool(config["vectors"][DENSE].get("quantization_config"))
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                quantized = False
            self._params[region] = SearchParams(quantization=QuantizationSearchParams(
                rescore=True, oversampling=RESCORE_OVERSAMPLING)) if quantized else None
        return self._params[region]

    def drop(self, region: str) -> None:
        """Remove a region's collection (an old model's, after a reindex)."""
        shard = self._shards.pop(region, None)
        self._params.pop(region, None)
        if shard is not None:
            shard.close()
        shutil.rmtree(self._path(region), ignore_errors=True)

    def compact(self, region: str) -> int:
        """Rebuild a region's shard from its live points, so that nothing of a deleted
        point survives in old segments or the write-ahead log (erasure needs this).
        Returns the points kept."""
        shard = self._shard(region, create=False)
        if shard is None:
            return 0
        records: list[Any] = []
        offset = None
        while True:
            page, offset = shard.scroll(ScrollRequest(offset=offset, limit=SCROLL_PAGE, with_payload=True,
                                                      with_vector=True))
            records.extend(page)
            if offset is None:
                break
        shard.close()
        del self._shards[region]
        self._params.pop(region, None)
        path = self._path(region)
        staging, old = self.root / ".compact", path.with_name(path.name + ".old")
        shutil.rmtree(staging, ignore_errors=True)
        # An index opened only to erase from may not know its dimension: the points do.
        dimension = self.dimension or next((len(dict(r.vector or {})[DENSE]) for r in records), 0)
        if not dimension:
            shutil.rmtree(path)  # nothing left and nothing to size a new shard by
            return 0
        rebuilt = EdgeIndex(staging, model_id=self.model_id, dimension=dimension, quantization=self.quantization)
        points = []
        for r in records:
            vectors = dict(r.vector or {})
            sparse = vectors.get(SPARSE)
            points.append(IndexPoint(str(r.id), list(vectors[DENSE]), dict(r.payload or {}),
                                     Sparse(list(sparse.indices), list(sparse.values)) if sparse else None))
        rebuilt.upsert(region, points)
        rebuilt.close()
        os.replace(path, old)
        os.replace(rebuilt._path(region), path)
        shutil.rmtree(old)
        shutil.rmtree(staging)
        return len(points)

    def optimize(self) -> None:
        """Build the HNSW and payload indexes now (blocking) rather than on first need,
        and flush the segments. An update is in the write-ahead log as soon as it returns
        (a killed process loses none); a flush after every call cost 10-25 ms each, three
        per edit, so the sync flushes once when it is done."""
        for shard in self._shards.values():
            shard.optimize()
            shard.flush()

    def close(self) -> None:
        for shard in self._shards.values():
            shard.flush()
            shard.close()
        self._shards.clear()
