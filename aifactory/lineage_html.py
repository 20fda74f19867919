"""A lineage trace as one self-contained HTML page: the graph drawn in inline SVG
(source -> event versions -> chunks -> points), the records in tables below. No
scripts, no external assets: it opens anywhere and can be attached to an audit."""

from __future__ import annotations

import html
import json
from typing import Any

COL_W, ROW_H, BOX_W, BOX_H = 260, 56, 220, 40


def _nodes(trace: dict[str, Any]) -> tuple[list[tuple[int, str, str]], list[tuple[str, str]]]:
    """(column, id, label) nodes and (from, to) edges."""
    nodes: list[tuple[int, str, str]] = [(0, "source", trace["source_uri"].rsplit("/", 1)[-1] or "source")]
    edges: list[tuple[str, str]] = []
    if trace["kind"] == "document":
        for e in trace["versions"]:
            nid = f"ev-{e['event_id']}"
            nodes.append((1, nid, f"v{e['version']} {e['op']} @ {e['log_topic']}/{e['log_partition']}/"
                                  f"{e['log_offset']}"))
            edges.append(("source", nid))
        last = f"ev-{trace['versions'][-1]['event_id']}"
        for c in trace["chunks"]:
            cid = f"ch-{c['row_id']}"
            nodes.append((2, cid, f"chunk {c['chunk_no']} ({c['token_count']} tokens)"))
            edges.append((last, cid))
            if c.get("point"):
                pid = f"pt-{c['point']['point_id']}"
                nodes.append((3, pid, f"point {c['point']['point_id'][:8]}… {c['point']['region']}"))
                edges.append((cid, pid))
    else:
        ev, ch = trace.get("event") or {}, trace.get("chunk") or {}
        nodes += [(1, "event", f"v{ev.get('version')} @ {ev.get('log_topic')}/{ev.get('log_partition')}/"
                               f"{ev.get('log_offset')}"),
                  (2, "chunk", f"chunk {ch.get('chunk_no')} ({ch.get('token_count')} tokens)"),
                  (3, "point", f"point {trace['point_id'][:8]}… {trace['region']}")]
        edges += [("source", "event"), ("event", "chunk"), ("chunk", "point")]
    return nodes, edges


def render(trace: dict[str, Any]) -> str:
    nodes, edges = _nodes(trace)
    rows: dict[int, int] = {}
    pos: dict[str, tuple[int, int]] = {}
    for col, nid, _ in nodes:
        pos[nid] = (20 + col * COL_W, 20 + rows.get(col, 0) * ROW_H)
        rows[col] = rows.get(col, 0) + 1
    height = 40 + max(rows.values()) * ROW_H
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{20 + 4 * COL_W}" height="{height}" '
           'font-family="sans-serif" font-size="12">']
    for a, b in edges:
        (x1, y1), (x2, y2) = pos[a], pos[b]
        svg.append(f'<line x1="{x1 + BOX_W}" y1="{y1 + BOX_H // 2}" x2="{x2}" y2="{y2 + BOX_H // 2}" '
                   'stroke="#789" stroke-width="1.5"/>')
    colours = ("#e8f0fe", "#fef7e0", "#e6f4ea", "#fce8e6")
    for col, nid, label in nodes:
        x, y = pos[nid]
        svg.append(f'<g><title>{html.escape(nid)}</title><rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" '
                   f'rx="6" fill="{colours[col]}" stroke="#456"/><text x="{x + 8}" y="{y + 24}">'
                   f'{html.escape(label[:34])}</text></g>')
    svg.append("</svg>")
    title = f"Lineage of {trace.get('document_id') or trace.get('point_id')}"
    body = json.dumps(trace, indent=2, default=str)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;margin:2em}pre{background:#f6f8fa;padding:1em;overflow:auto}"
            "</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p>tenant {html.escape(str(trace['tenant']))} · source "
            f"<code>{html.escape(trace['source_uri'])}</code></p>{''.join(svg)}"
            f"<h2>Records</h2><pre>{html.escape(body)}</pre></body></html>")
