"""The run-level lineage graph as a lineage server would draw it from the OpenLineage
events (pipeline/runlineage.py): one node per dataset (namespace and name) and per job,
an edge from each input to its job and from the job to each output. One self-contained
HTML page (inline SVG, tables, no scripts), or the graph as JSON.

Columns follow the flow: each node sits one column right of the furthest node that
feeds it, so sources and topics come first and the index collections last.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aifactory.lineage_html import STYLE, Node, draw, wrap
from governance.jsonlines import read_objects


@dataclass
class Graph:
    datasets: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (namespace, name) -> facet names
    jobs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # -> runs, states, last, parents
    edges: set[tuple[str, str]] = field(default_factory=set)  # node ids, "d:ns|name" and "j:ns|name"


def dataset_id(namespace: str, name: str) -> str:
    return f"d:{namespace}|{name}"


def job_id(namespace: str, name: str) -> str:
    return f"j:{namespace}|{name}"


def build(events: Iterable[dict[str, Any]]) -> Graph:
    g = Graph()
    for e in events:
        job = e.get("job") or {}
        key = (str(job.get("namespace", "")), str(job.get("name", "")))
        if not all(key):
            continue
        info = g.jobs.setdefault(key, {"runs": set(), "states": defaultdict(int), "last": "", "parents": set()})
        info["runs"].add((e.get("run") or {}).get("runId"))
        info["states"][e.get("eventType", "")] += 1
        info["last"] = max(info["last"], str(e.get("eventTime", "")))
        parent = ((e.get("run") or {}).get("facets") or {}).get("parent") or {}
        if parent.get("job"):
            info["parents"].add(f"{parent['job'].get('namespace')}/{parent['job'].get('name')}")
        for side in ("inputs", "outputs"):
            for d in e.get(side) or []:
                ds = (str(d.get("namespace", "")), str(d.get("name", "")))
                g.datasets.setdefault(ds, set()).update((d.get("facets") or {}).keys())
                a, b = dataset_id(*ds), job_id(*key)
                g.edges.add((a, b) if side == "inputs" else (b, a))
    return g


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events of a lineage file; lines that are not JSON objects are left out."""
    return read_objects(path)


def _kind(namespace: str, name: str, facets: set[str]) -> str:
    if namespace.startswith("kafka://"):
        return "topic"
    if "/chunks__" in name or name.startswith("chunks__") or namespace.startswith(("http://", "https://")):
        return "collection"
    return "table" if "schema" in facets else "folder"


def _columns(g: Graph) -> dict[str, int]:
    """Each node's column: one right of the furthest node feeding it (longest path)."""
    nodes = {dataset_id(*d) for d in g.datasets} | {job_id(*j) for j in g.jobs}
    column = dict.fromkeys(nodes, 0)
    for _ in range(len(nodes)):  # a cycle cannot push a node past the node count
        moved = False
        for a, b in g.edges:
            if column[b] < column[a] + 1 <= len(nodes):
                column[b], moved = column[a] + 1, True
        if not moved:
            break
    return column


def nodes_and_edges(g: Graph) -> tuple[list[Node], list[tuple[str, str]]]:
    column = _columns(g)
    nodes = []
    for (ns, name), facets in sorted(g.datasets.items(), key=lambda d: (column[dataset_id(*d[0])], d[0][1])):
        short = name.rstrip("/").rsplit("/", 1)[-1] or name
        nodes.append(Node(column[dataset_id(ns, name)], dataset_id(ns, name),
                          [*wrap(short), *wrap(ns)], _kind(ns, name, facets)))
    for (ns, name), info in sorted(g.jobs.items(), key=lambda j: (column[job_id(*j[0])], j[0][1])):
        runs = len(info["runs"])
        nodes.append(Node(column[job_id(ns, name)], job_id(ns, name),
                          [*wrap(name), f"{runs} run{'s' if runs != 1 else ''}"], "job"))
    nodes.sort(key=lambda n: (n.column, n.kind == "job", n.id))
    return nodes, sorted(g.edges)


def as_json(g: Graph) -> dict[str, Any]:
    return {"datasets": [{"namespace": ns, "name": name, "facets": sorted(f)} for (ns, name), f in
                         sorted(g.datasets.items())],
            "jobs": [{"namespace": ns, "name": name, "runs": len(i["runs"]), "events": dict(i["states"]),
                      "last_event": i["last"], "parents": sorted(i["parents"])} for (ns, name), i in
                     sorted(g.jobs.items())],
            "edges": [{"from": a, "to": b} for a, b in sorted(g.edges)]}


def render(g: Graph, source: str) -> str:
    nodes, edges = nodes_and_edges(g)
    drawing = draw(nodes, edges, svg_id="run-lineage") if nodes else "<p>No lineage events yet.</p>"
    rows = "".join(f"<tr><td><code>{html.escape(ns)}</code></td><td><code>{html.escape(name)}</code></td>"
                   f"<td>{html.escape(', '.join(sorted(f)))}</td></tr>" for (ns, name), f in sorted(g.datasets.items()))
    jobs = "".join(f"<tr><td><code>{html.escape(ns)}</code></td><td><code>{html.escape(name)}</code></td>"
                   f"<td class='num'>{len(i['runs'])}</td>"
                   f"<td>{html.escape(', '.join(f'{k} {v}' for k, v in sorted(i['states'].items())))}</td>"
                   f"<td>{html.escape(', '.join(sorted(i['parents'])) or '-')}</td></tr>"
                   for (ns, name), i in sorted(g.jobs.items()))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Run-level lineage</title>"
            f"<style>{STYLE}</style></head><body><h1>Run-level lineage</h1>"
            f"<p>{len(g.datasets)} datasets and {len(g.jobs)} jobs from <code>{html.escape(source)}</code>. "
            "Datasets are named by the OpenLineage naming spec: one node per dataset, whichever front door "
            "(CLI, services, Dagster) wrote the event.</p>"
            f"<div style='overflow-x:auto'>{drawing}</div>"
            f"<h2>Datasets</h2><table class='datasets'><thead><tr><th>namespace</th><th>name</th><th>facets</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>"
            f"<h2>Jobs</h2><table class='jobs'><thead><tr><th>namespace</th><th>name</th><th>runs</th>"
            f"<th>events</th><th>parent</th></tr></thead><tbody>{jobs}</tbody></table></body></html>")
