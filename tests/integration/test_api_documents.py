"""Documents in through the API (POST /v1/documents) with the real model and broker: a writer
sends text and files, polls the request, and a reader finds them; the run is metered for the
tenant; the same name sent again is a new version; bad files are dead-lettered with a reason
while the others of the request are indexed; wrong roles and bad bodies get clear 4xx."""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import pytest

from tests.integration.conftest import ApiWorld

pytestmark = pytest.mark.integration

TENANT = "inbox-co"  # a tenant of its own: the documents sent here leave the others' results alone
GUIDE = (
    "<html><head><title>Turbine guide</title></head><body><h1>Turbine guide</h1>"
    "<p>The zephyr turbine must be inspected every ninety days by a certified engineer.</p></body></html>"
)


@pytest.fixture(scope="module")
def keys(api_world: ApiWorld) -> dict[str, dict[str, str]]:
    made = {role: api_world.keys.create(TENANT, role, ["eu-central"])[1] for role in ("reader", "writer")}
    return {role: {"Authorization": f"Bearer {token}"} for role, token in made.items()}


def post(world: ApiWorld, headers: dict[str, str], body: Any) -> httpx.Response:
    return httpx.post(world.url + "/v1/documents", json=body, headers=headers, timeout=60)


def settled(world: ApiWorld, headers: dict[str, str], accepted: httpx.Response) -> dict[str, Any]:
    assert accepted.status_code == 202, accepted.text
    ticket = accepted.json()
    assert accepted.headers["location"] == ticket["status_url"] == f"/v1/ingestions/{ticket['request_id']}"
    deadline = time.monotonic() + 240
    while (ticket := httpx.get(world.url + ticket["status_url"], headers=headers, timeout=60).json())["state"] in (
        "pending",
        "running",
    ):
        assert time.monotonic() < deadline, "the document request did not complete"
        time.sleep(0.5)
    assert ticket["state"] == "complete", ticket
    return ticket


def search(world: ApiWorld, headers: dict[str, str], query: str) -> list[dict[str, Any]]:
    r = httpx.post(world.url + "/v1/search", json={"query": query, "top_k": 10}, headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    hits: list[dict[str, Any]] = r.json()["hits"]
    return hits


def test_documents_sent_are_indexed_metered_and_versioned(api_world: ApiWorld, keys: dict[str, dict[str, str]]) -> None:
    writer, reader = keys["writer"], keys["reader"]
    accepted = post(
        api_world,
        writer,
        {
            "documents": [
                {
                    "name": "hr/sabbatical.txt",
                    "text": "Sabbatical policy. Staff may take 31 days of sabbatical leave "
                    "after five years of service.",
                },
                {"name": "faq.md", "text": "# Canteen\n\nThe canteen serves vegetarian lunch on Thursdays."},
                {
                    "name": "guides/turbine.html",
                    "content_base64": base64.b64encode(GUIDE.encode()).decode(),
                    "media_type": "text/html",
                },
                {"name": "scans/broken.pdf", "content_base64": base64.b64encode(b"not a pdf at all").decode()},
                {"name": "tools/setup.exe", "content_base64": base64.b64encode(b"MZ\x90\x00binary").decode()},
            ]
        },
    )
    sent = accepted.json()
    assert sent["state"] == "pending" and sent["jurisdiction"] == "EU"  # the home of the key's one region
    assert [d["document_id"] for d in sent["documents"]][:2] == [f"{TENANT}:hr/sabbatical.txt", f"{TENANT}:faq.md"]
    done = settled(api_world, writer, accepted)

    states = {d["name"]: d for d in done["documents"]}
    assert {n: d["state"] for n, d in states.items()} == {
        "hr/sabbatical.txt": "published",
        "faq.md": "published",
        "guides/turbine.html": "published",
        "scans/broken.pdf": "dead_lettered",
        "tools/setup.exe": "dead_lettered",
    }
    assert "scans/broken.pdf" in states["scans/broken.pdf"]["reason"]
    assert "unsupported file type" in states["tools/setup.exe"]["reason"]
    assert (done["published"], done["dead_lettered"]) == (3, 2) and len(done["event_ids"]) == 3
    assert done["chunks"] >= 3 and all(e["chunks"] >= 1 for e in states["faq.md"]["events"])

    hits = search(api_world, reader, "How many days of sabbatical leave?")
    assert hits[0]["citation"]["document_id"] == f"{TENANT}:hr/sabbatical.txt" and "31 days" in hits[0]["text"]
    assert hits[0]["lineage"]["event_id"] in done["event_ids"]
    turbine = search(api_world, reader, "how often is the zephyr turbine inspected")
    assert turbine[0]["citation"]["document_id"] == f"{TENANT}:guides/turbine.html"

    metered = [e for e in api_world.factory.ledger.entries() if e.run_id == done["run_id"] and e.tenant == TENANT]
    assert sum(e.documents for e in metered if e.event == "ingest") == 3
    assert sum(e.chunks for e in metered if e.event == "chunking") >= 3

    again = settled(
        api_world,
        writer,
        post(
            api_world,
            writer,
            {
                "jurisdiction": "eu",
                "documents": [
                    {
                        "name": "hr/sabbatical.txt",
                        "text": "Sabbatical policy. Staff may take 45 days of sabbatical leave "
                        "after three years of service.",
                    },
                    {"name": "faq.md", "text": "# Canteen\n\nThe canteen serves vegetarian lunch on Thursdays."},
                ],
            },
        ),
    )
    (new, same) = again["documents"]
    assert new["state"] == "published" and [e["version"] for e in new["events"]] == [2]
    assert same["state"] == "unchanged" and [e["version"] for e in same["events"]] == [1]
    doc = httpx.get(f"{api_world.url}/v1/documents/{TENANT}:hr/sabbatical.txt", headers=reader, timeout=60).json()
    assert doc["version"] == 2 and doc["state"] == "live"
    texts = [h["text"] for h in search(api_world, reader, "How many days of sabbatical leave?")]
    assert any("45 days" in t for t in texts) and not any("31 days" in t for t in texts)


def test_wrong_roles_and_bad_bodies_are_refused_clearly(api_world: ApiWorld, keys: dict[str, dict[str, str]]) -> None:
    one = {"documents": [{"name": "a.txt", "text": "hello"}]}
    denied = post(api_world, keys["reader"], one)
    assert denied.status_code == 403 and "writer" in denied.json()["detail"]
    assert denied.headers["content-type"] == "application/problem+json"

    writer = keys["writer"]
    climbing = post(
        api_world,
        writer,
        {"documents": [{"name": "../../etc/cron.d/x.txt", "text": "x"}, {"name": "/abs/path.txt", "text": "x"}]},
    )
    assert climbing.status_code == 422
    detail = climbing.json()["detail"]
    assert "'../../etc/cron.d/x.txt'" in detail and "'/abs/path.txt'" in detail
    assert [e["loc"] for e in climbing.json()["errors"]] == [
        ["body", "documents", 0, "name"],
        ["body", "documents", 1, "name"],
    ]
    empty = post(api_world, writer, {"documents": []})
    assert empty.status_code == 422 and "send at least one document" in empty.json()["detail"]
    twice = post(api_world, writer, {"documents": [{"name": "a.txt", "text": "1"}, {"name": "a.txt", "text": "2"}]})
    assert twice.status_code == 422 and "'a.txt' is sent twice" in twice.json()["detail"]
    mismatch = post(
        api_world,
        writer,
        {
            "documents": [
                {
                    "name": "a.txt",
                    "content_base64": base64.b64encode(b"%PDF-1.4").decode(),
                    "media_type": "application/pdf",
                }
            ]
        },
    )
    assert mismatch.status_code == 422 and "name it with the suffix of its type" in mismatch.json()["detail"]
    bad64 = post(api_world, writer, {"documents": [{"name": "a.pdf", "content_base64": "@@not base64@@"}]})
    assert bad64.status_code == 422 and "not valid base64" in bad64.json()["detail"]
    unknown = post(api_world, writer, {"jurisdiction": "Atlantis", "documents": one["documents"]})
    assert unknown.status_code == 422 and "known: EU, US" in unknown.json()["detail"]
    elsewhere = post(api_world, writer, {"jurisdiction": "US", "documents": one["documents"]})
    assert elsewhere.status_code == 403 and "us-east" in elsewhere.json()["detail"]
    assert httpx.get(api_world.url + "/v1/ingestions/apidoc-none", headers=writer, timeout=30).status_code == 404
    others = httpx.get(api_world.url + "/v1/ingestions/apidoc-none", headers=keys["reader"], timeout=30)
    assert others.status_code == 403
