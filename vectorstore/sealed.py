"""The index with encryption at rest: payload text and titles are sealed as they are
written and opened as they are read (governance/sealing.py), so the index's storage, a
Qdrant server's included, holds ciphertext. A point whose tenant was shredded cannot be
opened and is left out of every answer. Vectors and the BM25 sparse vectors stay as they
are: search needs them, and the sparse one holds hashed terms, not words."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from governance.sealing import FIELDS, Sealer
from vectorstore.index import Hit, IndexPoint, Query, VectorIndex
from vectorstore.search import SearchError


class SealedIndex:
    def __init__(self, inner: VectorIndex, sealer: Sealer) -> None:
        self.inner, self.sealer = inner, sealer

    def __getattr__(self, name: str) -> Any:  # everything that carries no text passes through
        return getattr(self.inner, name)

    def upsert(self, region: str, points: Sequence[IndexPoint]) -> None:
        self.inner.upsert(region, [IndexPoint(p.id, p.vector, self.sealer.seal_fields(p.payload), p.sparse)
                                   for p in points])

    def set_payloads(self, region: str, payloads: dict[str, dict[str, Any]]) -> None:
        self.inner.set_payloads(region, {pid: self.sealer.seal_fields(body) for pid, body in payloads.items()})

    def _opened(self, hits: list[Hit]) -> list[Hit]:
        out = []
        for h in hits:
            payload = self.sealer.open_fields(h.payload)
            if payload is not None:
                out.append(Hit(h.id, h.score, payload, h.vector))
        return out

    def search(self, region: str, query: Query) -> list[Hit]:
        sealed = sorted(set(FIELDS) & {*query.filters, *query.exclude})
        if sealed:  # a sealed value matches no plain one: say so rather than find nothing
            raise SearchError(f"with encryption at rest, {', '.join(sealed)} is sealed and cannot be filtered on; "
                              "filter on metadata, document_id, region or event_time instead")
        return self._opened(self.inner.search(region, query))

    def retrieve(self, region: str, ids: list[str]) -> list[Hit]:
        return self._opened(self.inner.retrieve(region, ids))

    def points(self, region: str) -> list[Hit]:
        return self._opened(self.inner.points(region))


def bare(index: Any) -> Any:
    """The adapter under the sealing, for questions about the adapter itself."""
    return index.inner if isinstance(index, SealedIndex) else index
