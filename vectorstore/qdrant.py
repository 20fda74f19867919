"""The qdrant-client adapter: a Qdrant server or cluster (`QDRANT_URL`, optional
API key), or qdrant-client's own local mode (a folder, or `:memory:`), which
speaks the same API and runs the same contract tests."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

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
    alias_name,
    collection_name,
    conditions,
    dense_of,
    regions_of,
    stored,
)
from vectorstore.sparse import SPARSE

log = logging.getLogger(__name__)

TIMEOUT_S = 30
UPSERT_RETRIES = 3
PAYLOAD_BATCH = 256  # payload rewrites sent in one request (one request per point was the bottleneck)
# Qdrant keeps each tenant's points together on disk and searches them without a global
# HNSW walk when the tenant index says is_tenant (multitenancy, Qdrant 1.11+).
TENANT_FIELD = "tenant"
# The active model, kept on the server so that every API node, whatever its home, searches
# the collections the last `reindex` switched to (not only the aliases: a node must also
# load that model to embed its questions).
REGISTRY = "aifactory__active-model"
REGISTRY_POINT = "00000000-0000-0000-0000-00000000a11a"


class IndexUnavailable(VectorStoreError, RuntimeError):
    """The Qdrant server cannot be reached or refused a request."""


def _condition(c: Condition) -> models.FieldCondition:
    if c.bounds:
        bounds = dict(c.bounds)
        return models.FieldCondition(key=c.field, range=models.DatetimeRange(**bounds) if c.dates  # type: ignore[arg-type]
                                     else models.Range(**bounds))  # type: ignore[arg-type]
    if len(c.values) == 1:
        return models.FieldCondition(key=c.field, match=models.MatchValue(value=c.values[0]))
    return models.FieldCondition(key=c.field, match=models.MatchAny(any=list(c.values)))


def _filter(query: Query) -> models.Filter:
    must, must_not = conditions(query)
    return models.Filter(must=[_condition(c) for c in must],
                         must_not=[_condition(c) for c in must_not] or None)


class QdrantIndex(ScrollingIndex):
    """Collections on a Qdrant server (or in qdrant-client's local mode), one per region, for one model."""

    def __init__(self, client: QdrantClient, *, model_id: str, dimension: int, shards: int | None = None,
                 replication: int | None = None, quantization: str = "none") -> None:
        self.client, self.model_id, self.dimension = client, model_id, dimension
        self.shards, self.replication = shards, replication  # of new collections; None: the server's default
        self.quantization = quantization  # of new collections (index.QUANTIZATIONS)
        # Rescoring is asked for whatever the collection holds: the server ignores it on float vectors.
        self._params = models.SearchParams(quantization=models.QuantizationSearchParams(
            rescore=True, oversampling=RESCORE_OVERSAMPLING)) if quantization != "none" else None
        self._ready: set[str] = set()

    @classmethod
    def connect(cls, *, url: str, api_key: str | None, model_id: str, dimension: int, shards: int | None = None,
                replication: int | None = None, quantization: str = "none") -> QdrantIndex:
        client = QdrantClient(url=url, api_key=api_key or None, timeout=TIMEOUT_S)
        try:
            client.get_collections()
        except (ResponseHandlingException, UnexpectedResponse, OSError) as exc:
            raise IndexUnavailable(f"cannot reach Qdrant at {url} ({exc}); check QDRANT_URL (or QDRANT_REGION_URLS) "
                                   "and the API key, or unset them to use the embedded Qdrant Edge") from exc
        return cls(client, model_id=model_id, dimension=dimension, shards=shards, replication=replication,
                   quantization=quantization)

    @classmethod
    def local(cls, path: str, *, model_id: str, dimension: int, quantization: str = "none") -> QdrantIndex:
        index = cls(QdrantClient(path=path) if path != ":memory:" else QdrantClient(location=":memory:"),
                    model_id=model_id, dimension=dimension, quantization=quantization)
        index._params = None  # local mode searches exactly and warns about search parameters
        return index

    def _collection(self, region: str, *, create: bool) -> str | None:
        name = collection_name(region, self.model_id)
        if name in self._ready:
            return name
        if not self.client.collection_exists(name):
            if not create:
                return None
            self.client.create_collection(
                name,
                vectors_config={DENSE: models.VectorParams(size=self.dimension, distance=models.Distance.COSINE)},
                quantization_config=models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(
                    type=models.ScalarType.INT8, quantile=0.99, always_ram=True))
                if self.quantization == "int8" else None,
                sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
                shard_number=self.shards, replication_factor=self.replication,
            )
            for key in KEYWORD_FIELDS:
                self.client.create_payload_index(name, key, models.KeywordIndexParams(
                    type=models.KeywordIndexType.KEYWORD, is_tenant=key == TENANT_FIELD or None))
        self._ready.add(name)
        return name

    def regions(self) -> list[str]:
        return regions_of((c.name for c in self.client.get_collections().collections), self.model_id)

    def upsert(self, region: str, points: Sequence[IndexPoint]) -> None:
        name = self._collection(region, create=True)
        assert name is not None
        structs = []
        for p in points:
            vector: dict[str, Any] = {DENSE: [float(x) for x in p.vector]}
            if p.sparse is not None:
                vector[SPARSE] = models.SparseVector(indices=p.sparse.indices, values=p.sparse.values)
            structs.append(models.PointStruct(id=p.id, vector=vector, payload=stored(p.payload)))
        self.client.upload_points(name, structs, batch_size=UPSERT_BATCH, max_retries=UPSERT_RETRIES, wait=True)

    def delete(self, region: str, ids: Iterable[str]) -> None:
        name = self._collection(region, create=False)
        todo: list[Any] = list(ids)
        if name is None or not todo:
            return
        self.client.delete(name, points_selector=models.PointIdsList(points=todo), wait=True)

    def _scroll(self, region: str, *, with_payload: bool | list[str], tenant: str | None = None,
                documents: Collection[str] | None = None) -> list[Any]:
        name = self._collection(region, create=False)
        if name is None or (documents is not None and not documents):
            return []
        must: list[Any] = [models.FieldCondition(key="tenant", match=models.MatchValue(value=tenant))] if tenant else []
        if documents is not None:
            must.append(models.FieldCondition(key="document_id", match=models.MatchAny(any=sorted(documents))))
        flt = models.Filter(must=must) if must else None
        records: list[Any] = []
        offset = None
        while True:
            page, offset = self.client.scroll(name, limit=SCROLL_PAGE, offset=offset, with_payload=with_payload,
                                              with_vectors=False, scroll_filter=flt)
            records.extend(page)
            if offset is None:
                return records

    def set_payloads(self, region: str, payloads: dict[str, dict[str, Any]]) -> None:
        name = self._collection(region, create=False)
        if name is None:
            return
        operations = [models.OverwritePayloadOperation(overwrite_payload=models.SetPayload(payload=stored(body),
                                                                                         points=[pid]))
                      for pid, body in payloads.items()]
        for start in range(0, len(operations), PAYLOAD_BATCH):
            self.client.batch_update_points(name, operations[start:start + PAYLOAD_BATCH], wait=True)

    def retrieve(self, region: str, ids: list[str]) -> list[Hit]:
        name = self._collection(region, create=False)
        if name is None or not ids:
            return []
        return [Hit(str(r.id), 0.0, dict(r.payload or {})) for r in self.client.retrieve(name, ids, with_payload=True)]

    def count(self, region: str, *, tenant: str | None = None, document_id: str | None = None) -> int:
        name = self._collection(region, create=False)
        if name is None:
            return 0
        must: list[Any] = [models.FieldCondition(key=k, match=models.MatchValue(value=v))
                           for k, v in (("tenant", tenant), ("document_id", document_id)) if v]
        flt = models.Filter(must=must) if must else None
        return int(self.client.count(name, count_filter=flt, exact=True).count)

    def search(self, region: str, query: Query) -> list[Hit]:
        name = self._collection(region, create=False)
        if name is None:
            return []
        flt = _filter(query)
        want = [DENSE] if query.with_vectors else False
        dense = [float(x) for x in query.dense]
        if query.mode == "hybrid" and query.sparse is not None:
            depth = query.top_k * HYBRID_DEPTH
            sparse = models.SparseVector(indices=query.sparse.indices, values=query.sparse.values)
            found = self.client.query_points(
                name, query=models.RrfQuery(rrf=models.Rrf(k=RRF_K)), limit=query.top_k, with_payload=True,
                with_vectors=want,
                prefetch=[models.Prefetch(query=dense, using=DENSE, limit=depth, filter=flt, params=self._params),
                          models.Prefetch(query=sparse, using=SPARSE, limit=depth, filter=flt)])
        elif query.mode == "keyword" and query.sparse is not None:
            found = self.client.query_points(
                name, query=models.SparseVector(indices=query.sparse.indices, values=query.sparse.values),
                using=SPARSE, query_filter=flt, limit=query.top_k, with_payload=True, with_vectors=want)
        else:
            found = self.client.query_points(name, query=dense, using=DENSE, query_filter=flt, limit=query.top_k,
                                             with_payload=True, with_vectors=want, search_params=self._params)
        return [Hit(str(p.id), float(p.score), dict(p.payload or {}), dense_of(p.vector)) for p in found.points]

    def drop(self, region: str) -> None:
        name = collection_name(region, self.model_id)
        self._ready.discard(name)
        if self.client.collection_exists(name):
            self.client.delete_collection(name)

    def point_aliases(self, regions: list[str]) -> None:
        """Make `chunks__<region>` name this model's collections, for every region in one request."""
        ops: list[Any] = []
        existing = {a.alias_name for a in self.client.get_aliases().aliases}
        for region in regions:
            alias = alias_name(region)
            if alias in existing:
                ops.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)))
            ops.append(models.CreateAliasOperation(create_alias=models.CreateAlias(
                collection_name=collection_name(region, self.model_id), alias_name=alias)))
        if ops:
            self.client.update_collection_aliases(change_aliases_operations=ops)

    def active_model(self) -> dict[str, Any] | None:
        """The active model's record ({id, dimension, model}) as the server keeps it."""
        if not self.client.collection_exists(REGISTRY):
            return None
        found = self.client.retrieve(REGISTRY, [REGISTRY_POINT], with_payload=True)
        return dict(found[0].payload or {}) if found else None

    def set_active_model(self, record: dict[str, Any]) -> None:
        if not self.client.collection_exists(REGISTRY):
            self.client.create_collection(REGISTRY, vectors_config=models.VectorParams(
                size=1, distance=models.Distance.DOT), replication_factor=self.replication)
        self.client.upsert(REGISTRY, [models.PointStruct(id=REGISTRY_POINT, vector=[1.0], payload=record)], wait=True)

    def optimize(self) -> None:
        """A Qdrant server optimises in the background; nothing to wait for."""

    def close(self) -> None:
        self.client.close()
