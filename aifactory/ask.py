"""`aifactory search` and `aifactory status` as clients. When a running process owns the
embedded index with the model loaded (`aifactory serve`, `aifactory up`, a run, `run
--follow`), that process answers the whole search or status, so this command loads
neither the pipeline nor the model: it answers in a fraction of a second instead of the
seconds torch, DuckDB and the model take to load. Without such a process, the command
does the work itself (commands.cmd_search, commands.cmd_status)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any


def format_results(question: str, results: list[Any], withheld: int = 0, tenant: str = "") -> str:
    """The answer and its sources; with no result, how many quarantined chunks matched instead."""
    if not results:
        if withheld:
            return (f"Q: {question}\nNo results: {withheld} matching chunk(s) are quarantined as suspected prompt "
                    f"injection and left out; --include-quarantined shows them, and `aifactory quarantine list "
                    f"--tenant {tenant}` reviews them.")
        return f"Q: {question}\nNo results: nothing indexed for this tenant matches."
    best = results[0]
    kind = getattr(best, "score_kind", "")
    lines = [f"Q: {question}", "", f"A: {best.text.strip()[:700]}", "", "Sources" + (f" ({kind} score):" if kind
                                                                                        else ":")]
    for r in results:
        lines.append(f"  [{r.rank}] {r.title} ({r.score:.3f})\n      {r.source_uri}")
        lines += [f"      also in: {d['source_uri']}" for d in getattr(r, "also_in", [])]
    return "\n".join(lines)


def known_here(home: Path, tenant: str) -> bool:
    """Whether the raw lake has a folder of `tenant` (tenant names are folder-safe)."""
    return any((home / "lake" / "raw").glob(f"region=*/tenant={tenant}"))


def answer(args: argparse.Namespace, home: Path) -> bool:
    """Print the search's answer as given by the index's owner; False when no owner
    with a model answers (or the tenant is unknown here, which the full command
    explains), so the caller runs the full command."""
    if not known_here(home, args.tenant) or not (home / "index" / ".owner.json").exists():
        return False
    from vectorstore.filters import from_cli  # standard library only
    from vectorstore.owner_card import ask  # no numpy, no torch, no DuckDB

    filters, exclude = from_cli(args.filter)

    def asked(include_quarantined: bool) -> list[dict[str, Any]] | None:
        return ask(home / "index", text=args.text, tenant=args.tenant, top_k=args.top_k, mode=args.mode,
                   offset=args.offset, score_threshold=args.score_threshold,
                   include_quarantined=include_quarantined, filters=filters, exclude=exclude)

    results = asked(args.include_quarantined)
    if results is None:
        return False
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    else:
        withheld = 0 if results or args.include_quarantined else \
            sum(1 for r in asked(True) or [] if r.get("quarantined"))
        print(format_results(args.text, [SimpleNamespace(**r) for r in results], withheld, args.tenant))
    return True


def format_status(data: dict[str, Any]) -> str:
    rows = [f"{'tenant':<16}{'events':>8}{'docs':>7}{'chunks':>8}{'points':>8}{'dead':>6}{'quar.':>6}"]
    for tenant, c in data["tenants"].items():
        rows.append(f"{tenant or '(none)':<16}{c['events']:>8}{c['documents']:>7}{c['current_chunks']:>8}"
                    f"{c['points']:>8}{c['dead_letters']:>6}{c.get('quarantined', 0):>6}")
    held = sum(c.get("quarantined", 0) for c in data["tenants"].values())
    if held:
        rows.append(f"{held} chunk(s) quarantined as suspected prompt injection: left out of search and RAG "
                    "context; `aifactory search ... --include-quarantined --json` shows each with its reasons")
    repeated = {table: n for table, n in data["lake"]["repeated_keys"].items() if n}
    if repeated:
        rows.append(f"warning: {sum(repeated.values())} lake row(s) stored twice ("
                    + ", ".join(f"{t}: {n}" for t, n in repeated.items())
                    + "); run `aifactory repair` to fold them")
    for role, who in (("index served by", data["in_use"]["index"]), ("writing now", data["in_use"]["writer"])):
        if who:
            rows.append(f"{role}: {who['command']} (pid {who['pid']}, since {who['since']})")
    services = data["in_use"]["services"]
    if services:
        rows.append("services: " + ", ".join(f"{s['kind']} (pid {s['pid']})" for s in services))
    sealed = data.get("encryption") or {}
    if sealed.get("on"):
        rows.append(f"encryption at rest: on, tenants' master keys in {sealed['keys']}")
    elif sealed.get("sealed_data"):
        rows.append("warning: this home holds sealed data but encryption is off here: set AIFACTORY_ENCRYPTION=on "
                    "(and the home's AIFACTORY_KMS_DIR) to read it")
    return f"home: {data['home']}\nmodel: {data['model']}\n" + "\n".join(rows)


def answer_status(args: argparse.Namespace, home: Path) -> bool:
    """Print the status as the index's owner gives it; False when no owner with the
    pipeline loaded answers, so the caller runs the full command."""
    if not (home / "index" / ".owner.json").exists():
        return False
    from vectorstore.owner_card import status  # no numpy, no torch, no DuckDB

    data = status(home / "index")
    if data is None:
        return False
    print(json.dumps(data, indent=2, default=str) if args.json else format_status(data))
    return True
