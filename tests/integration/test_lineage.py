"""Record-level lineage: for every document of the sample corpus, from the document
to its points and from each point back to the same document and source."""

from __future__ import annotations

import pytest

from aifactory.lineage import trace
from aifactory.lineage_html import render
from tests.integration.conftest import ApiWorld

pytestmark = pytest.mark.integration


def test_every_sample_document_round_trips_through_its_points(api_world: ApiWorld) -> None:
    factory = api_world.factory
    checked = 0
    for tenant in ("helio-eu", "helio-us"):
        for doc in api_world.documents[tenant]:
            forward = trace(factory, tenant, doc)
            assert forward is not None and forward["kind"] == "document"
            latest = forward["versions"][-1]
            assert latest["log_topic"] and latest["log_offset"] is not None
            assert latest["lake_file"].startswith("raw/region=") and latest["lake_row"] >= 0
            points = [c["point"] for c in forward["chunks"] if c["point"]]
            # Duplicates fold into another chunk's point; every other chunk has its own.
            assert points or latest["op"] == "delete", doc
            for p in points:
                back = trace(factory, tenant, p["point_id"])
                assert back is not None and back["kind"] == "point"
                assert back["document_id"] == doc and back["source_uri"] == forward["source_uri"]
                assert back["event"]["event_id"] == latest["event_id"]
                assert back["chunk"]["lake_file"].startswith("chunks/region=")
                checked += 1
    assert checked >= 46


def test_lineage_is_tenant_scoped_and_renders_as_a_page(api_world: ApiWorld) -> None:
    doc = api_world.documents["helio-eu"][0]
    assert trace(api_world.factory, "helio-us", doc) is None
    page = render(trace(api_world.factory, "helio-eu", doc) or {})
    assert page.startswith("<!doctype html>") and "<svg" in page and "<script" not in page
    assert doc in page
