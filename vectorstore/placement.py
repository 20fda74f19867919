"""Each region's collections on a Qdrant cluster of its own (`QDRANT_REGION_URLS`), so
residency is a place and not only a collection name: a region the map does not name is
refused, never put on some other region's cluster.

    QDRANT_REGION_URLS=eu-central=https://qdrant.eu.example:6333,us-east=https://qdrant.us.example:6333
    QDRANT_REGION_API_KEYS=eu-central=...,us-east=...   (else QDRANT_API_KEY for all)
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, Protocol

from vectorstore.errors import VectorStoreError
from vectorstore.index import Hit, IndexPoint, Query, VectorIndex


class ServerIndex(VectorIndex, Protocol):
    """An index on Qdrant servers: it also keeps the active model's record."""

    def active_model(self) -> dict[str, Any] | None: ...
    def set_active_model(self, record: dict[str, Any]) -> None: ...


class PlacementError(VectorStoreError, ValueError):
    """A region with no cluster in the map, or a map that does not parse."""


def parse_map(text: str, variable: str) -> dict[str, str]:
    """`region=value,region=value` as a dict; a clear error naming `variable` otherwise."""
    found: dict[str, str] = {}
    for item in (i.strip() for i in text.split(",") if i.strip()):
        region, sep, value = item.partition("=")
        if not sep or not region.strip() or not value.strip():
            raise PlacementError(f"{variable}: {item!r} is not region=value (for example "
                                 "eu-central=https://qdrant.eu.example:6333)")
        if region.strip() in found:
            raise PlacementError(f"{variable}: region {region.strip()!r} is named twice")
        found[region.strip()] = value.strip()
    return found


class PlacedIndex:
    """A VectorIndex whose every region lives on the index the map gives it."""

    def __init__(self, by_region: dict[str, ServerIndex]) -> None:
        if not by_region:
            raise PlacementError("QDRANT_REGION_URLS names no region")
        self.by_region = by_region
        self.model_id = next(iter(by_region.values())).model_id

    @classmethod
    def connect(cls, urls: dict[str, str], open_one: Callable[[str, str], ServerIndex]) -> PlacedIndex:
        """`open_one(url, region)` for each distinct URL; regions sharing a URL share a client."""
        opened: dict[str, ServerIndex] = {}
        for region, url in urls.items():
            if url not in opened:
                opened[url] = open_one(url, region)
        return cls({region: opened[url] for region, url in urls.items()})

    def _at(self, region: str) -> ServerIndex:
        index = self.by_region.get(region)
        if index is None:
            raise PlacementError(f"region {region!r} has no Qdrant cluster in QDRANT_REGION_URLS (it names "
                                 f"{', '.join(sorted(self.by_region))}); add one for it: the residency policy does "
                                 "not let its data be stored on another region's cluster")
        return index

    def _distinct(self) -> list[ServerIndex]:
        return list({id(i): i for i in self.by_region.values()}.values())

    def upsert(self, region: str, points: Sequence[IndexPoint]) -> None:
        self._at(region).upsert(region, points)

    def delete(self, region: str, ids: Iterable[str]) -> None:
        self._at(region).delete(region, ids)

    def ids(self, region: str) -> set[str]:
        return self._at(region).ids(region)

    def digests(self, region: str, *, tenant: str | None = None,
                documents: Collection[str] | None = None) -> dict[str, str]:
        return self._at(region).digests(region, tenant=tenant, documents=documents)

    def set_payloads(self, region: str, payloads: dict[str, dict[str, Any]]) -> None:
        self._at(region).set_payloads(region, payloads)

    def regions(self) -> list[str]:
        """Regions with collections on the cluster the map places them on."""
        return sorted(r for r, index in self.by_region.items() if r in index.regions())

    def count(self, region: str, *, tenant: str | None = None, document_id: str | None = None) -> int:
        return self._at(region).count(region, tenant=tenant, document_id=document_id)

    def search(self, region: str, query: Query) -> list[Hit]:
        return self._at(region).search(region, query)

    def retrieve(self, region: str, ids: list[str]) -> list[Hit]:
        return self._at(region).retrieve(region, ids)

    def points(self, region: str) -> list[Hit]:
        return self._at(region).points(region)

    def drop(self, region: str) -> None:
        self._at(region).drop(region)

    def point_aliases(self, regions: list[str]) -> None:
        for index in self._distinct():
            mine = [r for r in regions if self.by_region.get(r) is index]
            aliases = getattr(index, "point_aliases", None)
            if mine and aliases is not None:
                aliases(mine)

    def active_model(self) -> dict[str, Any] | None:
        """The record every cluster agrees on; the newest where a switch reached only some."""
        records = [r for index in self._distinct() if (r := index.active_model()) is not None]
        return max(records, key=lambda r: str(r.get("activated_at", ""))) if records else None

    def set_active_model(self, record: dict[str, Any]) -> None:
        for index in self._distinct():
            index.set_active_model(record)

    def optimize(self) -> None:
        for index in self._distinct():
            index.optimize()

    def close(self) -> None:
        for index in self._distinct():
            index.close()
