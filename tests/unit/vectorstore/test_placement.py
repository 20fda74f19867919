"""Qdrant placement: each region on the cluster the map names (here qdrant-client's local
mode stands in for each cluster: no Qdrant server binary can be had here), writes for an
unplaced region refused, and what the adapter asks of a server (tenant index, shards,
batched payload rewrites) recorded off the real client."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from qdrant_client import QdrantClient

from pipeline.settings import FactorySettings
from vectorstore.index import IndexPoint
from vectorstore.placement import PlacedIndex, PlacementError, parse_map
from vectorstore.qdrant import PAYLOAD_BATCH, QdrantIndex

DIM = 4


def point(n: int, tenant: str = "acme") -> IndexPoint:
    return IndexPoint(f"00000000-0000-0000-0000-{n:012d}", [1.0, 0.0, 0.0, float(n % 3)],
                      {"tenant": tenant, "document_id": f"d{n}", "digest": f"x{n}"})


class Recording:
    """The real local client, with the calls the adapter makes written down."""

    def __init__(self, client: QdrantClient) -> None:
        self.client, self.calls = client, list[tuple[str, Any, Any]]()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args, kwargs))
            return method(*args, **kwargs)
        return call


@pytest.fixture(autouse=True)
def _quiet() -> Any:
    with warnings.catch_warnings():  # local mode: "payload indexes have no effect"
        warnings.simplefilter("ignore", UserWarning)
        yield


def test_each_region_lands_on_its_own_cluster_and_an_unplaced_one_is_refused(tmp_path: Path) -> None:
    eu = QdrantIndex.local(str(tmp_path / "eu"), model_id="m-1", dimension=DIM)
    us = QdrantIndex.local(str(tmp_path / "us"), model_id="m-1", dimension=DIM)
    placed = PlacedIndex({"eu-central": eu, "us-east": us})
    placed.upsert("eu-central", [point(1), point(2)])
    placed.upsert("us-east", [point(3)])
    assert eu.regions() == ["eu-central"] and us.regions() == ["us-east"]  # nothing crossed over
    assert placed.regions() == ["eu-central", "us-east"] and placed.count("eu-central") == 2
    with pytest.raises(PlacementError, match="'ap-south' has no Qdrant cluster in QDRANT_REGION_URLS"):
        placed.upsert("ap-south", [point(4)])
    assert eu.count("eu-central") == 2 and us.count("us-east") == 1
    placed.close()


def test_regions_sharing_a_url_share_one_client() -> None:
    opened: list[str] = []

    def open_one(url: str, region: str) -> Any:
        opened.append(url)
        return QdrantIndex.local(":memory:", model_id="m-1", dimension=DIM)

    placed = PlacedIndex.connect({"eu-central": "http://a", "eu-west": "http://a", "us-east": "http://b"}, open_one)
    assert opened == ["http://a", "http://b"] and placed.by_region["eu-central"] is placed.by_region["eu-west"]


@pytest.mark.parametrize("text", ["eu-central", "eu-central=", "=http://a", "eu=http://a,eu=http://b"])
def test_a_map_that_does_not_parse_names_the_variable(text: str) -> None:
    with pytest.raises(PlacementError, match="QDRANT_REGION_URLS"):
        parse_map(text, "QDRANT_REGION_URLS")
    with pytest.raises(ValidationError, match="QDRANT_REGION_URLS"):
        FactorySettings(qdrant_region_urls=text)


def test_settings_name_the_server_mode() -> None:
    assert not FactorySettings().qdrant_server
    assert FactorySettings(qdrant_region_urls="eu-central=http://q:6333").qdrant_server


def test_tenant_index_is_a_tenant_index_and_collections_take_shards_and_replicas() -> None:
    client = Recording(QdrantClient(location=":memory:"))
    index = QdrantIndex(client, model_id="m-1", dimension=DIM, shards=6, replication=2)  # type: ignore[arg-type]
    index.upsert("eu-central", [point(1)])
    [create] = [kw for name, _, kw in client.calls if name == "create_collection"]
    assert (create["shard_number"], create["replication_factor"]) == (6, 2)
    schema = {args[1]: args[2] for name, args, _ in client.calls if name == "create_payload_index"}
    assert schema["tenant"].is_tenant is True and not schema["document_id"].is_tenant


def test_payload_rewrites_go_in_batches_not_one_request_per_point() -> None:
    client = Recording(QdrantClient(location=":memory:"))
    index = QdrantIndex(client, model_id="m-1", dimension=DIM)  # type: ignore[arg-type]
    n = PAYLOAD_BATCH * 2 + 10
    index.upsert("eu-central", [point(i) for i in range(n)])
    client.calls.clear()
    index.set_payloads("eu-central", {point(i).id: {**point(i).payload, "tenant": "other"} for i in range(n)})
    requests = [name for name, _, _ in client.calls if name not in ("collection_exists",)]
    assert len(requests) == 3, requests
    assert index.count("eu-central", tenant="other") == n


def test_the_active_model_is_written_to_every_cluster_and_read_back(tmp_path: Path) -> None:
    eu = QdrantIndex.local(str(tmp_path / "eu"), model_id="m-1", dimension=DIM)
    us = QdrantIndex.local(str(tmp_path / "us"), model_id="m-1", dimension=DIM)
    placed = PlacedIndex({"eu-central": eu, "us-east": us})
    assert placed.active_model() is None
    record = {"id": "m-2", "dimension": 8, "model": "/models/m2", "activated_at": "2026-12-06T10:00:00+00:00"}
    placed.set_active_model(record)
    assert eu.active_model() == record and us.active_model() == record and placed.active_model() == record
    placed.close()
