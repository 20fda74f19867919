"""`aifactory search` as a client. When a running process owns the embedded index with
the model loaded (`aifactory serve`, a run, `run --follow`), that process answers the
whole search, so this command loads neither the pipeline nor the model: it answers in
a fraction of a second instead of the seconds torch and the model take to load.
Without such a process, the command searches itself (commands.cmd_search)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any


def format_results(question: str, results: list[Any]) -> str:
    if not results:
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
    from vectorstore.owner import ask  # numpy and the wire format only: no torch, no DuckDB

    results = ask(home / "index", text=args.text, tenant=args.tenant, top_k=args.top_k, mode=args.mode,
                  include_quarantined=args.include_quarantined, filters=dict(args.filter))
    if results is None:
        return False
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    else:
        print(format_results(args.text, [SimpleNamespace(**r) for r in results]))
    return True
