"""The HTML reports, read as a person reads them: chart axes that start at zero and
legends that cover no bar, the usage numbers as a real table, and a lineage page
that keeps a deleted document's removed versions and fits every node label."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

from aifactory import lineage_html, usage_html
from governance.ledger import Ledger, UsageEntry
from governance.pricing import load_price_book
from pipeline.usage_report import usage


class Element:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Element | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.parts: list[str | Element] = []  # text and children, in document order

    @property
    def children(self) -> list[Element]:
        return [p for p in self.parts if isinstance(p, Element)]

    def all(self, tag: str) -> list[Element]:
        found = [c for c in self.children if c.tag == tag]
        return found + [d for c in self.children for d in c.all(tag)]

    def content(self) -> str:
        return "".join(p if isinstance(p, str) else p.content() for p in self.parts)


class Tree(HTMLParser):
    """A small DOM: enough to find tables, rows and SVG nodes."""

    VOID = frozenset({"meta", "br", "img", "hr", "input", "link"})

    def __init__(self, page: str) -> None:
        super().__init__()
        self.root = self.at = Element("#document", {}, None)
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Element(tag, {k: v or "" for k, v in attrs}, self.at)
        self.at.parts.append(node)
        if tag not in self.VOID:
            self.at = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.at.parts.append(Element(tag, {k: v or "" for k, v in attrs}, self.at))

    def handle_endtag(self, tag: str) -> None:
        node: Element | None = self.at
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.at = node.parent

    def handle_data(self, data: str) -> None:
        self.at.parts.append(data)


# ---- usage -------------------------------------------------------------------------------

@pytest.fixture
def report(tmp_path: Path) -> dict[str, Any]:
    """Three days of near-equal usage by two tenants: 11,550 to 11,800 tokens a day."""
    ledger = Ledger(tmp_path / "usage.jsonl")
    ledger.append([
        UsageEntry(at=datetime(2026, 11, day, 12, tzinfo=UTC), run_id=f"r{day}", tenant=tenant, event="embedding",
                   region=region, texts=40, tokens=tokens + 50 * day, compute_seconds=3.0, device="cpu")
        for day in (1, 2, 3) for tenant, region, tokens in (("acme", "eu-central", 11_500), ("zeta", "us-east", 11_650))
    ] + [UsageEntry(at=datetime(2026, 11, 2, tzinfo=UTC), run_id="api", tenant="acme", event="query", queries=1234,
                    tokens=9_000)])
    return usage(ledger, load_price_book(None), "2026-11")


def charts(report: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """The figures the page is drawn from, caught on their way to SVG."""
    figures: list[Figure] = []

    def keep(fig: Figure) -> str:
        figures.append(fig)
        return "<svg></svg>"

    monkeypatch.setattr(usage_html, "_svg", keep)
    usage_html.render(report)
    return figures


def test_every_chart_value_axis_starts_at_zero(report: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    figures = charts(report, monkeypatch)
    try:
        assert len(figures) == 2
        for fig in figures:
            (ax,) = fig.axes
            assert ax.get_ylim()[0] == 0, f"{ax.get_title()}: the value axis starts at {ax.get_ylim()[0]:,.0f}"
    finally:
        for fig in figures:
            plt.close(fig)


def test_no_legend_covers_a_bar(report: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    figures = charts(report, monkeypatch)
    try:
        for fig in figures:
            (ax,) = fig.axes
            legend = ax.get_legend()
            assert legend is not None, ax.get_title()
            fig.canvas.draw()
            box = legend.get_window_extent()
            marks = [*ax.patches, *ax.lines]  # bars, or the lines of a line chart
            assert marks, ax.get_title()
            covered = [m for m in marks if box.overlaps(m.get_window_extent())]
            assert not covered, f"{ax.get_title()}: the legend covers {len(covered)} of {len(marks)} marks"
            assert not box.overlaps(ax.get_window_extent()), f"{ax.get_title()}: the legend is inside the plot"
    finally:
        for fig in figures:
            plt.close(fig)


def test_per_tenant_numbers_are_a_table_not_a_dump(report: dict[str, Any]) -> None:
    page = Tree(usage_html.render(report)).root
    assert not page.all("pre"), "the per-tenant numbers are a <pre> dump"
    table = next((t for t in page.all("table") if t.attrs.get("id") == "usage"), None)
    assert table is not None
    head = [th.content() for th in table.all("thead")[0].all("th")]
    assert head[:2] == ["tenant", "region"] and "tokens embedded" in head and "queries" in head
    rows = [[td for td in tr.all("td")] for tr in table.all("tbody")[0].all("tr")]
    assert [(r[0].content(), r[1].content()) for r in rows] == [("acme", "—"), ("acme", "eu-central"),
                                                                 ("zeta", "us-east")]
    by_head = [dict(zip(head, r, strict=True)) for r in rows]
    assert by_head[1]["tokens embedded"].content() == f"{11_500 * 3 + 50 * 6:,}" == "34,800"
    assert by_head[0]["queries"].content() == "1,234"
    for row in by_head:
        for name, cell in row.items():
            numeric = name not in ("tenant", "region")
            assert ("num" in cell.attrs.get("class", "").split()) == numeric, name
    assert re.search(r"td\.num\{[^}]*text-align:right", usage_html.STYLE)


def test_tiny_costs_do_not_read_as_zero(report: dict[str, Any]) -> None:
    line = report["lines"][1]
    line["cost"] = {k: 0.0 for k in line["cost"]} | {"embedding_tokens": 0.000025}
    line["total"] = 0.000025
    page = usage_html.render(report)
    assert "0.000025" in page


# ---- lineage -----------------------------------------------------------------------------

TOPIC = "aifactory-production-eu.raw-documents"
LAKE = "raw/region=eu-central/tenant=acme/date=2026-11-02/part-48695b4bc18a08a7ae4d.parquet"


def event(version: int, op: str, state: str, offset: int, ended_by: int | None) -> dict[str, Any]:
    return {"event_id": f"ev{version}", "op": op, "version": version, "document_id": "acme:handbook/travel-policy.md",
            "tenant": "acme", "region": "eu-central", "source_uri": "file:///srv/handbook/travel-policy.md",
            "event_time": f"2026-11-0{version}T10:00:00+00:00", "requested": "", "run_id": f"run-{version}",
            "log_topic": TOPIC, "log_partition": 3, "log_offset": offset, "lake_file": LAKE, "lake_row": version,
            "state": state, "ended_by": {"event_id": f"ev{ended_by}", "op": "x", "version": ended_by}
            if ended_by else None}


def chunk(version: int, n: int, point: str, removed_by: int) -> dict[str, Any]:
    return {"row_id": f"row-{version}-{n}", "chunk_id": f"c-{point}", "event_id": f"ev{version}", "chunk_no": n,
            "token_count": 20 + n, "section": "Travel > Booking", "log_topic": "aifactory-production-eu.chunks",
            "log_partition": 1, "log_offset": 10 * version + n, "lake_file": LAKE.replace("raw/", "chunks/"),
            "lake_row": n, "point": {"point_id": f"{point}-0000-0000-0000-000000000000", "region": "eu-central",
                                     "model": "m", "state": "removed",
                                     "removed_by": {"event_id": f"ev{removed_by}", "op": "x", "version": removed_by}}}


def deleted_trace() -> dict[str, Any]:
    """The shape `lineage.trace` gives a document edited once, then deleted."""
    v1 = event(1, "upsert", "superseded", 7, 2) | {"chunks": [chunk(1, 0, "aaaaaaaa", 3), chunk(1, 1, "bbbbbbbb", 2)]}
    v2 = event(2, "upsert", "deleted", 8, 3) | {"chunks": [chunk(2, 0, "aaaaaaaa", 3), chunk(2, 1, "cccccccc", 3)]}
    tomb = {"row_id": "tomb-3", "chunk_id": "tomb-3", "lake_file": LAKE.replace("raw/", "chunks/"), "lake_row": 0,
            "log_topic": "aifactory-production-eu.chunks", "log_partition": 1, "log_offset": 99}
    v3 = event(3, "delete", "delete", 9, None) | {"tombstone": tomb}
    deleted = {k: v3[k] for k in ("event_id", "op", "version", "event_time", "requested", "run_id", "log_topic",
                                  "log_partition", "log_offset", "lake_file", "lake_row")}
    deleted |= {"tombstone": tomb, "last_version": 2, "chunks_removed": 2, "versions_erased": [],
                "points_removed": [c["point"]["point_id"] for c in v2["chunks"]]}
    return {"kind": "document", "tenant": "acme", "document_id": "acme:handbook/travel-policy.md",
            "source_uri": v3["source_uri"], "state": "deleted", "deleted": deleted, "versions": [v1, v2, v3],
            "chunks": []}


def test_a_deleted_documents_page_shows_its_removed_versions() -> None:
    page = Tree(lineage_html.render(deleted_trace())).root
    text = page.content()
    assert "Deleted by version 3" in text and f"{TOPIC}/3/9" in text and "tombstone" in text
    versions = next(t for t in page.all("table") if "versions" in t.attrs.get("class", ""))
    rows = [[td.content() for td in tr.all("td")] for tr in versions.all("tbody")[0].all("tr")]
    assert [r[:3] for r in rows] == [["v1", "upsert", "replaced by v2"], ["v2", "upsert", "deleted by v3"],
                                     ["v3", "delete", "delete: tombstone"]]
    assert all(f"{TOPIC}/3/{offset}" in r[3] for r, offset in zip(rows, (7, 8, 9), strict=True))
    chunks = [t for t in page.all("table") if "chunks" in t.attrs.get("class", "")]
    states = [tr.all("td")[-1].content() for t in chunks for tr in t.all("tbody")[0].all("tr")]
    assert states == ["removed by v3", "removed by v2", "removed by v3", "removed by v3"]


def test_every_node_label_is_whole_and_fits_its_box() -> None:
    trace = deleted_trace()
    trace["source_uri"] = "file:///srv/handbook/" + "a-very-long-file-name-" * 4 + ".md"
    svg = Tree(lineage_html.render(trace)).root.all("svg")[0]
    # Widths can be bounded without a browser only in a monospace font: 0.62 em a character.
    assert svg.attrs.get("font-family", "").endswith("monospace")
    size = float(svg.attrs["font-size"])
    width, height = float(svg.attrs["width"]), float(svg.attrs["height"])
    labels = []
    for node in svg.all("g"):
        (rect,) = node.all("rect")
        x, y, w, h = (float(rect.attrs[k]) for k in ("x", "y", "width", "height"))
        assert x >= 0 and x + w <= width and y >= 0 and y + h <= height, node.attrs
        (text,) = node.all("text")
        for line in node.all("tspan") or [text]:
            left, base = float(line.attrs["x"]), float(line.attrs["y"])
            assert left >= x and left + 0.62 * size * len(line.content()) <= x + w, (line.content(), w)
            assert base - size >= y and base + size / 3 <= y + h, (line.content(), h)
        labels.append(text.content())
    # Nothing was cut: each event's full position is there, wrapped or not.
    for offset in (7, 8, 9):
        assert any(f"{TOPIC}/3/{offset}" in label for label in labels), labels
    assert any(("a-very-long-file-name-" * 4 + ".md") in label for label in labels), labels


@pytest.mark.parametrize("text", ["v1 upsert @ aifactory-production-eu.raw-documents/3/123456",
                                  "x" * 200, "報告書" * 30, "a b", ""])
def test_wrap_keeps_every_character_within_the_width(text: str) -> None:
    lines = lineage_html.wrap(text, 150)
    assert all(lineage_html.text_width(line) <= 150 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


def test_a_point_trace_renders_as_a_page_too() -> None:
    v1 = deleted_trace()["versions"][0]
    c = v1["chunks"][0]
    trace = {"kind": "point", "tenant": "acme", "point_id": c["point"]["point_id"], "region": "eu-central",
             "model": "m", "run_id": "run-1", "document_id": v1["document_id"], "version": 1, "chunker": "c",
             "screener": "s", "source_uri": v1["source_uri"], "chunk": c, "event": v1, "duplicates": []}
    page = Tree(lineage_html.render(trace)).root
    assert f"{TOPIC}/3/7" in page.all("svg")[0].content()
    assert any("point" in t.attrs.get("class", "") for t in page.all("table"))
