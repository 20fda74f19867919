"""The smaller holes of the vector API, over real HTTP: lineage honours the key's
tenant and regions with a 404 that tells nothing, an odd id on lineage is a 404 and
never a 500, /metrics needs an admin key and shows a tenant admin only its own
series, and a repeated DELETE answers with the request already made."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.integration.conftest import ApiWorld

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"
DOOMED = "acme:meetings/2026-03-05-ops-review.txt"  # acme's: test_lineage wants every helio document live
DELETED_BY_TESTS = (DOOMED, "acme:hr/travel-expenses.md")


def get(world: ApiWorld, path: str, key: str | None = None, token: str | None = None) -> httpx.Response:
    token = token or (world.tokens[key] if key else None)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # Ids hold '#' and '?' (a JSONL record, a query string in a URI): quoted, or httpx cuts them off.
    return httpx.get(world.url + quote(path, safe="/:%"), headers=headers, timeout=60)


def live_doc(world: ApiWorld, tenant: str, region: str) -> str:
    """A live document of `tenant` in `region` that no other test deletes."""
    for doc in world.documents[tenant]:
        found = world.backend.document(tenant, doc)
        if found and found["state"] == "live" and found["region"] == region and doc not in DELETED_BY_TESTS:
            return doc
    raise AssertionError(f"{tenant} has no live document in {region}")


def a_point(world: ApiWorld, doc: str) -> str:
    trace = get(world, f"/v1/lineage/{doc}", "acme/auditor").json()
    return next(c["point"]["point_id"] for c in trace["chunks"] if c.get("point"))


def blinded(r: httpx.Response, item_id: str) -> dict[str, Any]:
    """The problem body with the id asked for taken out: what is left must not differ."""
    body = r.json()
    return {k: v.replace(item_id, "ID").replace(quote(item_id, safe="/:"), "ID") if isinstance(v, str) else v
            for k, v in body.items()}


@pytest.fixture(scope="module")
def eu_auditor(api_world: ApiWorld) -> str:
    return api_world.keys.create("acme", "auditor", ["eu-central"])[1]


def test_lineage_outside_the_keys_regions_is_not_found_like_a_missing_one(api_world: ApiWorld,
                                                                          eu_auditor: str) -> None:
    eu_doc, us_doc = live_doc(api_world, "acme", "eu-central"), live_doc(api_world, "acme", "us-east")
    assert get(api_world, f"/v1/lineage/{eu_doc}", token=eu_auditor).status_code == 200
    eu_point, us_point = a_point(api_world, eu_doc), a_point(api_world, us_doc)
    assert get(api_world, f"/v1/lineage/{eu_point}", token=eu_auditor).json()["kind"] == "point"
    missing_doc, missing_point = "acme:no/such-document.md", "00000000-0000-4000-8000-000000000000"
    for outside, missing in ((us_doc, missing_doc), (us_point, missing_point)):
        r = get(api_world, f"/v1/lineage/{outside}", token=eu_auditor)
        absent = get(api_world, f"/v1/lineage/{missing}", token=eu_auditor)
        assert r.status_code == absent.status_code == 404, f"{outside}: {r.status_code} {r.text[:200]}"
        assert r.headers["content-type"] == absent.headers["content-type"] == PROBLEM
        assert blinded(r, outside) == blinded(absent, missing), "the 404 tells an existing item from a missing one"
    # Another tenant's point is not found either, whatever the regions.
    assert get(api_world, f"/v1/lineage/{eu_point}", "helio-eu/auditor").status_code == 404


@pytest.mark.parametrize("item_id", ["zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", "00000000-0000-0000-0000-00000000000g",
                                     "{0000000-0000-0000-0000-000000000000}", "00000000-0000-0000-0000-000000000000",
                                     "ABCDEF00-0000-4000-8000-000000000000", "..", "%00", "a" * 300])
def test_an_odd_lineage_id_is_not_found_never_a_crash(api_world: ApiWorld, item_id: str) -> None:
    r = get(api_world, f"/v1/lineage/{item_id}", "acme/auditor")
    assert r.status_code == 404, f"{item_id}: {r.status_code} {r.text[:200]}"
    assert r.headers["content-type"] == PROBLEM and r.json()["detail"]


def test_metrics_need_an_admin_key_and_a_tenant_admin_sees_only_its_tenant(api_world: ApiWorld) -> None:
    for key in ("helio-eu/reader", "helio-us/reader"):
        httpx.post(api_world.url + "/v1/search", json={"query": "warranty"}, headers=api_world.auth(key), timeout=60)
    anonymous = get(api_world, "/metrics")
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == PROBLEM
    assert "helio" not in anonymous.text
    for role in ("reader", "writer", "auditor"):
        r = get(api_world, "/metrics", f"helio-eu/{role}")
        assert r.status_code == 403 and "helio-us" not in r.text, role
    own = get(api_world, "/metrics", "helio-eu/admin")
    assert own.status_code == 200 and own.headers["content-type"].startswith("text/plain")
    assert 'tenant="helio-eu"' in own.text and "aifactory_api_request_seconds_bucket" in own.text
    assert 'tenant="helio-us"' not in own.text and 'tenant="acme"' not in own.text
    everyone = get(api_world, "/metrics", "*/admin").text
    assert 'tenant="helio-eu"' in everyone and 'tenant="helio-us"' in everyone


def test_a_repeated_delete_answers_with_the_request_already_made(api_world: ApiWorld) -> None:
    doc, key = DOOMED, "acme/writer"
    assert doc in api_world.documents["acme"]

    def delete() -> httpx.Response:
        return httpx.delete(f"{api_world.url}/v1/documents/{doc}", headers=api_world.auth(key), timeout=60)

    first, second = delete(), delete()
    assert first.status_code == 202, first.text
    assert second.status_code == 202, second.text
    assert second.json()["request_id"] == first.json()["request_id"], "a second request was made while one pends"
    assert second.headers["location"] == first.headers["location"]
    deadline = time.monotonic() + 120
    while (ticket := get(api_world, first.headers["location"], key).json())["state"] == "pending":
        assert time.monotonic() < deadline, "the delete did not complete"
        time.sleep(0.5)
    assert ticket["state"] == "complete", ticket
    again = delete()
    assert again.status_code in (404, 410), again.text
    assert again.headers["content-type"] == PROBLEM and "already deleted" in again.json()["detail"]
    # The journal holds every request's latest state: none of this document's ended otherwise.
    latest = {t["request_id"]: t for t in map(json.loads, api_world.backend.journal.read_text().splitlines())}
    assert [t["state"] for t in latest.values() if t["document_id"] == doc] == ["complete"]
