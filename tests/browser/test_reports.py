"""In a real browser: the HTML reports a new user opens first. A tiny folder goes
through the whole pipeline three times (ingest, edit one document, delete it), then
headless Chromium opens the usage report and the lineage page of the deleted
document from file:// URLs. Screenshots land under the test's tmp_path."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from aifactory.lineage_graph import build as build_graph
from aifactory.lineage_graph import read_events
from aifactory.lineage_graph import render as render_graph
from aifactory.lineage_html import render as lineage_page
from aifactory.usage_html import render as usage_page
from governance.pricing import load_price_book
from ingest.broker import EmbeddedBroker
from ingest.settings import EMBEDDED_WORKER_SESSION_MS, KafkaSettings
from ingest.sources import Source
from pipeline import runner
from pipeline.factory import Factory
from pipeline.lineage import trace
from pipeline.settings import FactorySettings
from pipeline.usage_report import usage
from vectorstore.embedder import Embedder

pytestmark = pytest.mark.integration

if os.environ.get("CI"):
    import playwright.sync_api as sync_api
else:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' brings playwright")

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; nothing is downloaded
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
TENANT = "acme"
# A long name of wide letters: the old graph cut it at 34 characters and still overflowed its box.
DOOMED_FILE = "Travel-And-Expenses-Policy-WORLDWIDE.md"
DOOMED = f"{TENANT}:{DOOMED_FILE}"
TRAVEL = """# Travel policy

## Booking
Book trains for trips under four hours. Flights need a manager's approval in writing.

## Expenses
Claim expenses within thirty days, with receipts, through the finance portal.
"""
KEEP = {"leave.md": "# Leave\n\nEveryone gets twenty-eight days of paid leave a year, bank holidays included.\n",
        "security.md": "# Security\n\nLaptops lock after five minutes. Report a lost badge to the front desk.\n"}


class World(NamedTuple):
    factory: Factory
    trace: dict[str, Any]
    usage: dict[str, Any]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, broker: EmbeddedBroker, embedder: Embedder) -> Iterator[World]:
    """A document in two versions, then deleted (its file removed), beside two live ones."""
    tmp = tmp_path_factory.mktemp("reports")
    folder = tmp / "docs"
    folder.mkdir()
    for name, text in {**KEEP, DOOMED_FILE: TRAVEL}.items():
        (folder / name).write_text(text)
    kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_prefix="reports-test",
                          worker_session_timeout_ms=EMBEDDED_WORKER_SESSION_MS)
    factory = Factory(FactorySettings(home=tmp / "home", kafka=kafka, stage_timeout_s=180), embedder=embedder)
    source = [Source(folder, TENANT, "EU")]
    try:
        runner.run(factory, source)
        # v2 changes one section: the other keeps its point, the changed one's point goes.
        (folder / DOOMED_FILE).write_text(TRAVEL.replace("thirty days", "sixty days"))
        runner.run(factory, source)
        (folder / DOOMED_FILE).unlink()
        runner.run(factory, source)
        found = trace(factory, TENANT, DOOMED)
        assert found is not None
        yield World(factory, found, usage(factory.ledger, load_price_book(None), "all"))
    finally:
        factory.close()


def test_a_deleted_documents_trace_keeps_its_removed_versions(world: World) -> None:
    t = world.trace
    assert t["state"] == "deleted" and t["chunks"] == []  # nothing of it is live
    v1, v2, v3 = t["versions"]
    assert (v1["op"], v1["state"], v2["op"], v2["state"], v3["op"], v3["state"]) == (
        "upsert", "superseded", "upsert", "deleted", "delete", "delete")
    for v in t["versions"]:
        assert v["log_topic"].endswith("raw-documents") and v["log_offset"] >= 0
        assert v["lake_file"].startswith("raw/region=eu-central/tenant=acme/") and v["lake_row"] >= 0
    assert v1["ended_by"]["event_id"] == v2["event_id"] and v2["ended_by"]["event_id"] == v3["event_id"]
    # Each removed version names its chunks, where they sit, and their points, removed.
    assert len(v1["chunks"]) == len(v2["chunks"]) == 2
    for c in v2["chunks"]:
        assert c["lake_file"].startswith("chunks/region=eu-central/") and c["log_topic"].endswith("chunks")
        assert c["point"]["state"] == "removed" and c["point"]["region"] == "eu-central"
    # The unchanged section kept its point from v1 to v2; the edited one got a new one.
    assert v1["chunks"][0]["point"]["point_id"] == v2["chunks"][0]["point"]["point_id"]
    assert v1["chunks"][1]["point"]["point_id"] != v2["chunks"][1]["point"]["point_id"]
    assert [c["point"]["removed_by"]["version"] for c in (*v1["chunks"], *v2["chunks"])] == [3, 2, 3, 3]
    gone = t["deleted"]
    assert gone["event_id"] == v3["event_id"] and gone["last_version"] == 2 and gone["chunks_removed"] == 2
    assert gone["tombstone"]["lake_file"].startswith("chunks/") and gone["tombstone"]["log_topic"].endswith("chunks")
    assert gone["points_removed"] == sorted(c["point"]["point_id"] for c in v2["chunks"])
    assert not any(world.factory.index.retrieve("eu-central", gone["points_removed"]))
    json.dumps(t)  # the CLI's --json prints it as is


def _labels_outside_their_boxes(page: sync_api.Page) -> list[str]:
    """Each node's label measured by the browser against its box and the drawing."""
    result: list[str] = page.evaluate("""() => {
        const svg = document.querySelector('svg');
        const vw = svg.width.baseVal.value, vh = svg.height.baseVal.value;
        const bad = [];
        for (const g of svg.querySelectorAll('g')) {
            const r = g.querySelector('rect').getBBox(), t = g.querySelector('text').getBBox();
            const inBox = t.x >= r.x && t.y >= r.y && t.x + t.width <= r.x + r.width
                && t.y + t.height <= r.y + r.height;
            const inView = r.x >= 0 && r.y >= 0 && r.x + r.width <= vw && r.y + r.height <= vh;
            const xywh = b => [b.x, b.y, b.width, b.height].map(Math.round).join(',');
            if (!inBox || !inView) bad.push(g.querySelector('text').textContent + ': text at ' + xywh(t)
                                             + ', box at ' + xywh(r));
        }
        return bad;
    }""")
    return result


@pytest.fixture
def browser() -> Iterator[sync_api.Browser]:
    if not CHROMIUM.exists():
        message = "Debian's chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser: sync_api.Browser, tmp_path: Path, name: str, html: str) -> sync_api.Page:
    """The page from a file, as a person opens it, with a full-page screenshot `<name>.png`."""
    path = tmp_path / f"{name}.html"
    path.write_text(html)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(path.as_uri())
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    return page


def test_usage_report_in_a_browser(world: World, browser: sync_api.Browser, tmp_path: Path) -> None:
    page = open_page(browser, tmp_path, "usage-report", usage_page(world.usage))
    table = page.locator("table#usage")
    sync_api.expect(table).to_be_visible()
    assert table.locator("thead th").first.inner_text() == "tenant"
    rows = table.locator("tbody tr")
    assert rows.count() == 1 and rows.first.locator("td").first.inner_text() == TENANT
    tokens = rows.first.locator("td").nth(4)
    assert tokens.evaluate("e => getComputedStyle(e).textAlign") == "right"
    assert int(tokens.inner_text().replace(",", "")) == world.usage["lines"][0]["tokens_embedded"] > 0
    assert page.locator("pre").count() == 0 and page.locator("svg").count() == 2
    # The whole table is on the page: nothing scrolls off to the right.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280


def test_lineage_of_a_deleted_document_in_a_browser(world: World, browser: sync_api.Browser, tmp_path: Path) -> None:
    page = open_page(browser, tmp_path, "lineage-deleted", lineage_page(world.trace))
    page.locator("svg").first.screenshot(path=str(tmp_path / "lineage-graph.png"))
    assert _labels_outside_their_boxes(page) == []
    # ...and whole: the file name and every event's full log position are in the drawing.
    drawn = page.locator("svg").first.text_content() or ""
    for label in (DOOMED_FILE, *(f"{v['log_topic']}/{v['log_partition']}/{v['log_offset']}"
                                 for v in world.trace["versions"])):
        assert label in drawn, label
    assert page.locator("svg g").count() >= 12  # source, 3 events, tombstone, 4 chunks, 3 points
    sync_api.expect(page.locator(".banner.deleted")).to_contain_text("Deleted by version 3")
    versions = page.locator("table.versions tbody tr")
    assert versions.count() == 3
    sync_api.expect(versions.nth(1)).to_contain_text("deleted by v3")
    assert page.locator("table.chunks .removed", has_text="removed by v3").count() == 3  # v1's kept point, v2's
    assert page.locator("table.chunks .removed", has_text="removed by v2").count() == 1  # v1's edited section
    sync_api.expect(page.locator("table.tombstone")).to_be_visible()


def test_run_level_lineage_graph_in_a_browser(world: World, browser: sync_api.Browser, tmp_path: Path) -> None:
    """The graph a lineage server would draw from the run-level events: one box per dataset
    and job, every label inside its box, and the flow left to right."""
    events = read_events(world.factory.settings.home / "lineage" / "openlineage.jsonl")
    graph = build_graph(events)
    page = open_page(browser, tmp_path, "run-lineage", render_graph(graph, "openlineage.jsonl"))
    page.locator("svg#run-lineage").screenshot(path=str(tmp_path / "run-lineage-graph.png"))
    assert _labels_outside_their_boxes(page) == []
    boxes = page.locator("svg#run-lineage g.node")
    assert boxes.count() == len(graph.datasets) + len(graph.jobs) and len(graph.jobs) == 1  # aifactory.run
    names = {name for _, name in graph.datasets}
    home = world.factory.settings.home
    assert {str(home / "lake" / "raw"), str(home / "lake" / "chunks"), "reports-test.raw-documents"} <= names
    # Left to right: a topic is drawn left of the job, the job left of the lake tables.
    x = {b.get_attribute("data-node"): float(b.locator("rect").get_attribute("x") or 0) for b in boxes.all()}
    job = next(k for k in x if k and k.startswith("j:"))
    topic = next(k for k in x if k and k.endswith("|reports-test.raw-documents"))
    table = next(k for k in x if k and k.endswith(f"|{home / 'lake' / 'raw'}"))
    assert x[topic] < x[job] < x[table]
    assert page.locator("table.datasets tbody tr").count() == len(graph.datasets)
