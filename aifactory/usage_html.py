"""The usage report as one self-contained HTML page: charts drawn by matplotlib as
inline SVG (tokens embedded per day, cost by component per tenant), and the numbers
behind them as HTML tables. No scripts: it opens anywhere and can be attached to an invoice.

The charts are honest by construction: value axes start at zero (a 2% difference
must look like 2%), and the legend sits outside the plot so it never covers a bar.
"""

from __future__ import annotations

import html
import io
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render to SVG text
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from pipeline.usage_report import COMPONENTS

STYLE = ("body{font-family:sans-serif;margin:2em;color:#222}"
         "table{border-collapse:collapse;margin:0.5em 0 2em}"
         "th,td{padding:0.3em 0.6em;border-bottom:1px solid #ddd}td{white-space:nowrap}"
         "th{text-align:left;background:#f6f8fa}th.num,td.num{text-align:right;font-variant-numeric:tabular-nums}"
         "tfoot td{font-weight:bold;border-top:2px solid #999}figure{margin:1em 0}")


def money_places(report: dict[str, Any]) -> int:
    """Decimals that show the smallest cost in the report (costs are rounded to 6):
    a page that reads 0.0000 for a tenant that was charged misleads as much as a cliff."""
    costs = [abs(v) for line in report["lines"] for v in (*line["cost"].values(), line["total"]) if v]
    if not costs:
        return 2
    return max(2, min(6, math.ceil(-math.log10(min(costs))) + 1))


def _stacked_bars(ax: Axes, labels: Sequence[str], series: dict[str, list[float]], number: str) -> None:
    """Bars stacked from zero; `number` formats the value axis ticks ("{:,.0f}")."""
    bottom = [0.0] * len(labels)
    for name, values in series.items():
        ax.bar(labels, values, bottom=bottom, label=name)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    # Bars are read against zero; an axis that starts higher turns a 2% step into a cliff.
    # The top is set too: stacked bars are sticky at their bases and would touch the frame.
    ax.set_ylim(0, (max(bottom, default=0.0) or 1.0) * 1.08)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: number.format(v)))
    if series:
        # Outside the plot, right of it: a legend inside covers bars whatever corner it picks.
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=8, frameon=False)


def tokens_figure(report: dict[str, Any]) -> Figure:
    """Tokens embedded per day, a bar per day stacked by tenant."""
    by_tenant: dict[str, dict[str, float]] = defaultdict(dict)
    for row in report["daily_tokens"]:
        by_tenant[row["tenant"]][row["day"]] = row["tokens"]
    days = sorted({row["day"] for row in report["daily_tokens"]})
    fig, ax = plt.subplots(figsize=(8, 3))
    _stacked_bars(ax, days, {t: [by_tenant[t].get(d, 0.0) for d in days] for t in sorted(by_tenant)}, "{:,.0f}")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # no "0.5 tokens" ticks
    ax.set_title("Tokens embedded per day")
    ax.set_ylabel("tokens")
    if len(days) > 6:
        fig.autofmt_xdate()
    return fig


def cost_figure(report: dict[str, Any]) -> Figure:
    """Cost per tenant, each bar stacked by component."""
    totals: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(COMPONENTS, 0.0))
    for line in report["lines"]:
        for c in COMPONENTS:
            totals[line["tenant"]][c] += line["cost"][c]
    tenants = sorted(totals)
    fig, ax = plt.subplots(figsize=(8, 3))
    series = {c.replace("_", " "): [totals[t][c] for t in tenants] for c in COMPONENTS} if tenants else {}
    _stacked_bars(ax, tenants, series, f"{{:,.{money_places(report)}f}}")
    ax.set_title(f"Cost by component ({report['currency']})")
    ax.set_ylabel(report["currency"])
    return fig


def _svg(fig: Figure) -> str:
    out = io.StringIO()
    fig.savefig(out, format="svg", bbox_inches="tight")  # "tight" keeps the outside legend in the image
    plt.close(fig)
    text = out.getvalue()
    return text[text.index("<svg"):]


def _figure(fig: Figure, caption: str) -> str:
    return f"<figure>{_svg(fig)}<figcaption>{html.escape(caption)}</figcaption></figure>"


Column = tuple[str, Callable[[dict[str, Any]], str], bool]  # header, cell text, numeric


def _int(key: str) -> Callable[[dict[str, Any]], str]:
    return lambda r: f"{r[key]:,}"


def _float(key: str, places: int) -> Callable[[dict[str, Any]], str]:
    return lambda r: f"{r[key]:,.{places}f}"


def _money(component: str, places: int) -> Callable[[dict[str, Any]], str]:
    return lambda r: f"{r['cost'][component]:,.{places}f}"


def _table(rows: list[dict[str, Any]], columns: list[Column], total: str, css_id: str) -> str:
    def cell(text: str, numeric: bool, tag: str = "td") -> str:
        return f"<{tag} class='num'>{html.escape(text)}</{tag}>" if numeric else f"<{tag}>{html.escape(text)}</{tag}>"

    head = "".join(cell(h, num, "th") for h, _, num in columns)
    body = "".join("<tr>" + "".join(cell(text(r), num) for _, text, num in columns) + "</tr>" for r in rows)
    foot = (f"<tr><td colspan='{len(columns) - 1}'>total</td>{cell(total, True)}</tr>") if rows and total else ""
    return (f"<table id='{css_id}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
            f"<tfoot>{foot}</tfoot></table>")


def usage_table(report: dict[str, Any]) -> str:
    """What each tenant used, per region, and what it costs in all."""
    places = money_places(report)
    columns: list[Column] = [
        ("tenant", lambda r: str(r["tenant"]), False),
        ("region", lambda r: str(r["region"] or "—"), False),  # queries metered before they had a region
        ("documents", _int("documents"), True),
        ("chunks", _int("chunks"), True),
        ("tokens embedded", _int("tokens_embedded"), True),
        ("CPU s", _float("cpu_seconds", 1), True),
        ("GPU s", _float("gpu_seconds", 1), True),
        ("vectors stored", _int("vectors_stored"), True),
        ("GB-months", _float("gb_months", 6), True),
        ("queries", _int("queries"), True),
        ("context tokens", _int("context_tokens"), True),
        ("energy Wh (est.)", _significant("energy_wh"), True),
        ("gCO2e (est.)", _significant("co2e_g"), True),
        (f"cost ({report['currency']})", _float("total", places), True),
    ]
    return _table(report["lines"], columns, f"{report['total']:,.{places}f}", "usage")


def cost_table(report: dict[str, Any]) -> str:
    """The numbers behind the cost chart: each component's cost per tenant and region."""
    places = money_places(report)
    columns: list[Column] = [("tenant", lambda r: str(r["tenant"]), False),
                             ("region", lambda r: str(r["region"] or "—"), False),
                             *((c.replace("_", " "), _money(c, places), True) for c in COMPONENTS),
                             ("total", _float("total", places), True)]
    return _table(report["lines"], columns, f"{report['total']:,.{places}f}", "cost")


def _rate(key: str) -> Callable[[dict[str, Any]], str]:
    return lambda r: _plain(r[key])


def _plain(value: float) -> str:
    """A rate as a person writes it: 0.00004, not 4e-05."""
    return f"{value:.10f}".rstrip("0").rstrip(".") or "0"


def _significant(key: str) -> Callable[[dict[str, Any]], str]:
    """Three significant digits: a small estimate must not print as 0.000."""
    return lambda r: _plain(float(f"{r.get(key, 0.0):.3g}"))


def _book_source(book: dict[str, Any]) -> str:
    return "The built-in example prices" if book["source"] == "built in" else \
        f"Read from {html.escape(str(book['source']))}"


def rates_table(report: dict[str, Any]) -> str:
    """The price book's rates, default and per region: what every cost on the page used."""
    book = report["price_book"]
    rows = [{"where": "default", **book["default"]}, *({"where": r, **p} for r, p in book["regions"].items())]
    columns: list[Column] = [("region", lambda r: str(r["where"]), False),
                             *((k.replace("_", " "), _rate(k), True) for k in book["default"])]
    return _table(rows, columns, "", "rates")


def quotas_section(report: dict[str, Any]) -> str:
    """Each tenant's quotas and today's ingest tokens against them (nothing when none is set)."""
    if not report.get("quotas"):
        return ""
    rows = [{"tenant": t, **q} for t, q in report["quotas"].items()]
    names = sorted({k for q in report["quotas"].values() for k in q})
    columns: list[Column] = [("tenant", lambda r: str(r["tenant"]), False),
                             *((k.replace("_", " "), _limit(k), True) for k in names)]
    return f"<h2>Quotas</h2>{_table(rows, columns, '', 'quotas')}"


def _limit(key: str) -> Callable[[dict[str, Any]], str]:
    return lambda r: f"{r[key]:,g}" if key in r else "none"


def render(report: dict[str, Any]) -> str:
    title = f"Usage {report['period']}"
    currency = html.escape(report["currency"])
    cost_caption = f"Cost per tenant in {report['currency']}, stacked by component."
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p>{html.escape(report['from'])} to {html.escape(report['to'])} (end exclusive), total "
            f"<strong>{report['total']:,.{money_places(report)}f} {currency}</strong></p>"
            f"{_figure(tokens_figure(report), 'Tokens embedded per day, stacked by tenant.')}"
            f"{_figure(cost_figure(report), cost_caption)}"
            f"<h2>Per tenant and region</h2>{usage_table(report)}"
            f"<h2>Cost by component ({currency})</h2>{cost_table(report)}"
            f"{quotas_section(report)}"
            f"<h2>Rates: price book {html.escape(str(report['price_book']['name']))} version "
            f"{html.escape(str(report['price_book']['version']))}</h2>"
            f"<p>{_book_source(report['price_book'])}; {currency} per unit.</p>"
            f"{rates_table(report)}"
            "</body></html>")
