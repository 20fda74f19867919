"""Property: whatever a client sends, no response carries another tenant's data or
data from a region its key may not read."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import ApiWorld

pytestmark = pytest.mark.integration

KEYS = {  # key name -> (tenant, regions it may read)
    "helio-eu/reader": ("helio-eu", {"eu-central"}),
    "helio-us/reader": ("helio-us", {"us-east"}),
    "acme/reader": ("acme", {"eu-central", "us-east"}),
    "acme/reader/eu-central": ("acme", {"eu-central"}),
    "acme/reader/us-east": ("acme", {"us-east"}),
}
WORDS = ["parental", "leave", "travel", "expenses", "error", "code", "warranty", "charging", "login", "robot",
         "Germany", "Texas", "forklift", "ignore", "instructions", "helio-us", "acme", "tenant", "*", "' OR 1=1"]


@st.composite
def requests(draw: st.DrawFn, documents: list[str]) -> tuple[str, str, dict[str, Any]]:
    key = draw(st.sampled_from(sorted(KEYS)))
    query = " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=6)))
    query += draw(st.text(max_size=20))
    filters = draw(st.dictionaries(
        st.sampled_from(["document_id", "jurisdiction", "region"]),
        st.one_of(st.sampled_from(documents), st.sampled_from(["EU", "US", "eu-central", "us-east"]),
                  st.text(max_size=12)), max_size=2))
    route = draw(st.sampled_from(["/v1/search", "/v1/rag/context"]))
    common = {"mode": draw(st.sampled_from(["dense", "hybrid"])), "filters": filters,
              "include_quarantined": draw(st.booleans())}
    if route == "/v1/search":
        body = {"query": query, "top_k": draw(st.integers(1, 100)), **common}
    else:
        body = {"query": query, "token_budget": draw(st.integers(16, 2000)), **common}
    return key, route, body


def test_no_response_crosses_a_tenant_or_a_region(api_world: ApiWorld) -> None:
    documents = [d for docs in api_world.documents.values() for d in docs]
    client = httpx.Client(base_url=api_world.url, timeout=60)

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(requests(documents))
    def check(req: tuple[str, str, dict[str, Any]]) -> None:
        key, route, body = req
        tenant, regions = KEYS[key]
        r = client.post(route, json=body, headers=api_world.auth(key))
        assert r.status_code in (200, 422), r.text
        if r.status_code != 200:
            return
        data = r.json()
        items = data["hits"] if route == "/v1/search" else data["citations"]
        for item in items:
            doc = item["citation"]["document_id"] if route == "/v1/search" else item["document_id"]
            assert doc.startswith(f"{tenant}:"), f"{key} got {doc}"
            assert item["lineage"]["region"] in regions, f"{key} got a point of {item['lineage']['region']}"
            assert doc in api_world.documents[tenant]

    try:
        check()
    finally:
        client.close()
