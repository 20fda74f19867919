"""A lineage trace as one self-contained HTML page: the graph drawn in inline SVG
(source -> event versions -> chunks -> points), the records in tables below, the
full trace as JSON at the end. No scripts, no external assets: it opens anywhere
and can be attached to an audit.

A deleted document keeps its history on the page: every version with its event,
lake row, chunks and points, which of them were removed, and the delete (event and
tombstone) that removed them.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

# Labels are set in a monospace font so their width can be computed here, without a
# browser: 0.62 em per character bounds DejaVu Sans Mono, Liberation Mono and Courier.
FONT = "DejaVu Sans Mono, Liberation Mono, Menlo, Consolas, monospace"
FONT_PX, LINE_H, PAD = 12, 15, 8
CHAR_EM, WIDE_EM = 0.62, 1.1  # wide: CJK and other double-width characters in a fallback font
MAX_TEXT_W = 36 * CHAR_EM * FONT_PX  # wrap beyond this; nodes grow taller, not wider
COL_GAP, ROW_GAP, MARGIN = 56, 12, 16
DASHED = ' stroke-dasharray="4 3"'

FILL = {"source": "#e8f0fe", "event": "#fef7e0", "chunk": "#e6f4ea", "point": "#fce8e6",
        "delete": "#f9d0cc", "gone": "#f1f3f4",
        # the run-level graph (lineage_graph.py): datasets by kind, and jobs
        "topic": "#fef7e0", "folder": "#e8f0fe", "table": "#e6f4ea", "collection": "#fce8e6", "job": "#ede7f6"}
STYLE = ("body{font-family:sans-serif;margin:2em;color:#222}"
         "table{border-collapse:collapse;margin:0.5em 0 1.5em}"
         "th,td{padding:0.25em 0.7em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}"
         "th{background:#f6f8fa}td.num{text-align:right}code{word-break:break-all}"
         ".banner{padding:0.8em 1em;border-radius:6px;margin:1em 0}"
         ".deleted{background:#fce8e6;border:1px solid #c5221f}.live{background:#e6f4ea;border:1px solid #137333}"
         ".removed{color:#a50e0e;font-weight:bold}svg{max-width:none}"
         "pre{background:#f6f8fa;padding:1em;overflow:auto}")


def text_width(text: str) -> float:
    """An upper bound of the rendered width of `text` in pixels."""
    return sum((WIDE_EM if unicodedata.east_asian_width(ch) in "WF" else CHAR_EM) * FONT_PX for ch in text)


def wrap(text: str, max_width: float = MAX_TEXT_W) -> list[str]:
    """Lines of at most `max_width` pixels, broken after spaces and path separators
    where it can, inside a word where it must."""
    lines: list[str] = []
    line = ""
    for piece in re.findall(r"[^ /\-_.:@]*[ /\-_.:@]?", text):
        if not piece:
            continue
        if text_width(line + piece.rstrip()) <= max_width:
            line += piece
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = ""
        for ch in piece:  # a piece wider than a line on its own
            if text_width(line + ch) > max_width and line:
                lines.append(line)
                line = ""
            line += ch
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


@dataclass
class Node:
    column: int
    id: str
    lines: list[str]
    kind: str  # a key of FILL
    gone: bool = False  # removed from the index: drawn dashed
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0

    @property
    def h(self) -> float:
        return 2 * PAD + len(self.lines) * LINE_H - (LINE_H - FONT_PX)


def _position(e: dict[str, Any]) -> str:
    return f"{e.get('log_topic')}/{e.get('log_partition')}/{e.get('log_offset')}"


def _point_state(p: dict[str, Any] | None) -> str:
    if not p:
        return "no point of its own: folded into a duplicate's"
    end = p.get("removed_by")
    return f"removed by v{end['version']}" if end else str(p.get("state", "live"))


def _version_state(e: dict[str, Any]) -> str:
    end = e.get("ended_by") or {}
    return {"live": "live", "delete": "delete: tombstone",
            "superseded": f"replaced by v{end.get('version')}",
            "deleted": f"deleted by v{end.get('version')}"}.get(e.get("state", ""), e.get("state", ""))


def _nodes(trace: dict[str, Any]) -> tuple[list[Node], list[tuple[str, str]]]:
    source = trace["source_uri"].rsplit("/", 1)[-1] or trace["source_uri"]
    nodes = [Node(0, "source", ["source", *wrap(source)], "source")]
    edges: list[tuple[str, str]] = []
    points: dict[str, Node] = {}
    if trace["kind"] == "document":
        for e in trace["versions"]:
            nid = f"ev-{e['event_id']}"
            delete = e["op"] == "delete"
            state = _version_state(e)
            nodes.append(Node(1, nid, [*wrap(f"v{e['version']} {e['op']}"), *wrap(f"@ {_position(e)}"),
                                       *wrap(state)], "delete" if delete else "event",
                              gone=e.get("state") in ("deleted", "superseded")))
            edges.append(("source", nid))
            if delete:
                if e.get("tombstone"):
                    tid = f"tomb-{e['event_id']}"
                    nodes.append(Node(2, tid, ["tombstone", *wrap(f"@ {_position(e['tombstone'])}")], "delete"))
                    edges.append((nid, tid))
                continue
            for c in e.get("chunks", []):
                cid = f"ch-{c['row_id']}"
                p = c.get("point")
                gone = bool(p) and p.get("state") == "removed"
                nodes.append(Node(2, cid, [f"v{e['version']} chunk {c['chunk_no']}",
                                           f"{c['token_count']} tokens" + (", removed" if gone else "")],
                                  "chunk", gone=gone))
                edges.append((nid, cid))
                if p:
                    pid = f"pt-{p['point_id']}"
                    if pid not in points:  # unchanged text keeps its point across versions
                        points[pid] = Node(3, pid, [f"point {p['point_id'][:8]}", *wrap(p["region"]),
                                                    *wrap(_point_state(p))], "point", gone=gone)
                        nodes.append(points[pid])
                    edges.append((cid, pid))
    else:
        ev, ch = trace.get("event") or {}, trace.get("chunk") or {}
        nodes += [Node(1, "event", [f"v{ev.get('version')} {ev.get('op', '')}".strip(), *wrap(f"@ {_position(ev)}")],
                       "event"),
                  Node(2, "chunk", [f"chunk {ch.get('chunk_no')}", f"{ch.get('token_count')} tokens"], "chunk"),
                  Node(3, "point", [f"point {trace['point_id'][:8]}", *wrap(trace["region"])], "point")]
        edges += [("source", "event"), ("event", "chunk"), ("chunk", "point")]
    return nodes, edges


def _layout(nodes: list[Node]) -> tuple[float, float]:
    """Place nodes column by column, each column as wide as its widest label; the
    width and height of the drawing."""
    columns = sorted({n.column for n in nodes})
    x = float(MARGIN)
    height = 0.0
    for col in columns:
        members = [n for n in nodes if n.column == col]
        width = max(text_width(line) for n in members for line in n.lines) + 2 * PAD
        y = float(MARGIN)
        for n in members:
            n.x, n.y, n.w = x, y, width
            y += n.h + ROW_GAP
        height = max(height, y)
        x += width + COL_GAP
    return x - COL_GAP + MARGIN, height - ROW_GAP + MARGIN


def svg(trace: dict[str, Any]) -> str:
    return draw(*_nodes(trace))


def draw(nodes: list[Node], edges: list[tuple[str, str]], *, svg_id: str = "lineage-graph") -> str:
    """Nodes in their columns and the edges between them, as one SVG."""
    width, height = _layout(nodes)
    at = {n.id: n for n in nodes}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" id="{svg_id}" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{FONT}" font-size="{FONT_PX}">']
    # Arrowheads say which way the data went (the flow runs left to right).
    out.append('<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" '
               'orient="auto-start-reverse"><path d="M0,0 L8,4 L0,8 z" fill="#789"/></marker></defs>')
    for a, b in edges:
        s, t = at[a], at[b]
        out.append(f'<line x1="{s.x + s.w:.1f}" y1="{s.y + s.h / 2:.1f}" x2="{t.x:.1f}" y2="{t.y + t.h / 2:.1f}" '
                   f'stroke="#789" stroke-width="1.5" marker-end="url(#arrow)"{DASHED if t.gone else ""}/>')
    for n in nodes:
        fill = FILL["gone"] if n.gone else FILL[n.kind]
        stroke = ' stroke="#a50e0e" stroke-dasharray="5 3"' if n.gone else ' stroke="#456"'
        spans = "".join(f'<tspan x="{n.x + PAD:.1f}" y="{n.y + PAD + FONT_PX - 2 + i * LINE_H:.1f}">'
                        f"{html.escape(line)}</tspan>" for i, line in enumerate(n.lines))
        out.append(f'<g class="node" data-node="{html.escape(n.id)}"><title>{html.escape(" ".join(n.lines))}</title>'
                   f'<rect x="{n.x:.1f}" y="{n.y:.1f}" width="{n.w:.1f}" height="{n.h:.1f}" rx="6" fill="{fill}"'
                   f'{stroke}/><text xml:space="preserve">{spans}</text></g>')
    out.append("</svg>")
    return "".join(out)


def _cells(values: list[str], numeric: frozenset[int] = frozenset()) -> str:
    return "".join(f"<td class='num'>{v}</td>" if i in numeric else f"<td>{v}</td>" for i, v in enumerate(values))


def _table(css_class: str, head: list[str], rows: list[list[str]], numeric: frozenset[int] = frozenset()) -> str:
    """A table of already-escaped cells."""
    th = "".join(f"<th scope='col'>{html.escape(h)}</th>" for h in head)
    body = "".join(f"<tr>{_cells(r, numeric)}</tr>" for r in rows)
    return f"<table class='{css_class}'><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _code(value: object) -> str:
    return f"<code>{_esc(value)}</code>"


def _where(row: dict[str, Any]) -> str:
    return _code(f"{row.get('lake_file')} row {row.get('lake_row')}")


def _banner(trace: dict[str, Any]) -> str:
    if trace["kind"] != "document":
        return ""
    gone = trace.get("deleted")
    if not gone:
        latest = trace["versions"][-1]
        return (f"<p class='banner live'><strong>Live</strong>: version {_esc(latest['version'])}, "
                f"{len(trace['chunks'])} chunks.</p>")
    how = f"on request {_code(gone['requested'])}" if gone.get("requested") else "its source file went away"
    tomb = gone.get("tombstone")
    erased = gone.get("versions_erased") or []
    return ("<p class='banner deleted'><strong>Deleted</strong> by version "
            f"{_esc(gone['version'])} ({how}), event {_code(_position(gone))} at {_esc(gone['event_time'])}, "
            f"raw lake {_where(gone)}"
            + (f"; tombstone in the chunks lake at {_where(tomb)}, chunks topic {_code(_position(tomb))}" if tomb
               else "")
            + (f". It removed version {_esc(gone['last_version'])}: {gone['chunks_removed']} chunks, "
               f"{len(gone['points_removed'])} points" if gone.get("last_version") else "")
            + (f". Versions {', '.join(map(str, erased))} were erased from the lake" if erased else "")
            + ".</p>")


def _versions(trace: dict[str, Any]) -> str:
    rows = [[_esc(f"v{e['version']}"), _esc(e["op"]), _state(e), _code(_position(e)), _esc(e.get("event_time")),
             _where(e), _esc(e.get("run_id")), _esc(len(e.get("chunks", [])) if e["op"] == "upsert" else "")]
            for e in trace["versions"]]
    head = ["version", "op", "state", "event (topic/partition/offset)", "event time", "raw lake", "run", "chunks"]
    return "<h2>Versions</h2>" + _table("versions", head, rows, frozenset({7}))


def _state(e: dict[str, Any]) -> str:
    text = _esc(_version_state(e))
    return f"<span class='removed'>{text}</span>" if e.get("state") in ("deleted", "superseded") else text


def _chunks(trace: dict[str, Any]) -> str:
    parts = []
    for e in trace["versions"]:
        if e["op"] == "delete":
            tomb = e.get("tombstone")
            if tomb:
                parts.append(f"<h3>v{_esc(e['version'])} delete: tombstone</h3>" + _table(
                    "tombstone", ["tombstone row", "chunks lake", "chunks topic"],
                    [[_code(tomb.get("row_id")), _where(tomb), _code(_position(tomb))]]))
            continue
        rows = []
        for c in e.get("chunks", []):
            p = c.get("point") or {}
            state = _esc(_point_state(c.get("point")))
            rows.append([_esc(c["chunk_no"]), _esc(c["token_count"]), _esc(c.get("section")), _where(c),
                         _code(_position(c)), _code(p.get("point_id", "")),
                         f"<span class='removed'>{state}</span>" if p.get("state") == "removed" else state])
        parts.append(f"<h3>v{_esc(e['version'])} chunks ({_state(e)})</h3>" + _table(
            "chunks", ["chunk", "tokens", "section", "chunks lake", "chunks topic", "point", "point state"], rows,
            frozenset({0, 1})))
    return "<h2>Chunks and points, by version</h2>" + "".join(parts)


def _point(trace: dict[str, Any]) -> str:
    ev, ch = trace.get("event") or {}, trace.get("chunk") or {}
    rows = [["point", _code(trace["point_id"])], ["region", _esc(trace["region"])], ["model", _esc(trace["model"])],
            ["run", _esc(trace.get("run_id"))], ["document", _code(trace["document_id"])],
            ["version", _esc(trace.get("version"))], ["event", _code(_position(ev))],
            ["raw lake", _where(ev) if ev else ""], ["chunk", _esc(ch.get("chunk_no"))],
            ["chunks lake", _where(ch) if ch else ""]]
    return "<h2>Point</h2>" + _table("point", ["", ""], rows)


def render(trace: dict[str, Any]) -> str:
    title = f"Lineage of {trace.get('document_id') or trace.get('point_id')}"
    tables = _versions(trace) + _chunks(trace) if trace["kind"] == "document" else _point(trace)
    body = json.dumps(trace, indent=2, default=str)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p>tenant {_esc(trace['tenant'])} · source "
            f"{_code(trace['source_uri'])}</p>{_banner(trace)}{svg(trace)}{tables}"
            f"<details><summary>The whole trace (JSON)</summary><pre>{html.escape(body)}</pre></details>"
            "</body></html>")
