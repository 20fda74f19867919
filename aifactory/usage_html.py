"""The usage report as one self-contained HTML page, charts drawn by matplotlib as
inline SVG: tokens embedded per day, and cost by component per tenant."""

from __future__ import annotations

import html
import io
from collections import defaultdict
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render to SVG text
import matplotlib.pyplot as plt

from aifactory.usage_report import COMPONENTS, as_table


def _svg(fig: Any) -> str:
    out = io.StringIO()
    fig.savefig(out, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = out.getvalue()
    return text[text.index("<svg"):]


def _over_time(report: dict[str, Any]) -> str:
    series: dict[str, dict[str, float]] = defaultdict(dict)
    for row in report["daily_tokens"]:
        series[row["tenant"]][row["day"]] = row["tokens"]
    fig, ax = plt.subplots(figsize=(8, 3))
    for tenant, days in sorted(series.items()):
        ax.plot(sorted(days), [days[d] for d in sorted(days)], marker="o", label=tenant)
    ax.set_title("Tokens embedded per day")
    ax.set_ylabel("tokens")
    if series:
        ax.legend()
    fig.autofmt_xdate()
    return _svg(fig)


def _by_component(report: dict[str, Any]) -> str:
    totals: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(COMPONENTS, 0.0))
    for line in report["lines"]:
        for c in COMPONENTS:
            totals[line["tenant"]][c] += line["cost"][c]
    tenants = sorted(totals)
    fig, ax = plt.subplots(figsize=(8, 3))
    bottom = [0.0] * len(tenants)
    for c in COMPONENTS:
        values = [totals[t][c] for t in tenants]
        ax.bar(tenants, values, bottom=bottom, label=c.replace("_", " "))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_title(f"Cost by component ({report['currency']})")
    if tenants:
        ax.legend(fontsize=8)
    return _svg(fig)


def render(report: dict[str, Any]) -> str:
    title = f"Usage {report['period']}"
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;margin:2em}pre{background:#f6f8fa;padding:1em}</style></head>"
            f"<body><h1>{html.escape(title)}</h1><p>{report['from']} to {report['to']}, total "
            f"{report['total']:.4f} {html.escape(report['currency'])}</p>{_over_time(report)}"
            f"{_by_component(report)}<h2>Per tenant and region</h2><pre>{html.escape(as_table(report))}</pre>"
            "</body></html>")
