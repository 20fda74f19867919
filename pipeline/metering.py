"""Metering of what lands in the lake: documents and bytes ingested (raw table) and
chunks produced (chunks table), one ledger entry per tenant and region for each
landed batch.

A lander calls these after its rows are durable and before it commits offsets, with
only rows the lake did not hold (checked and written under the key index's write lock,
ingest/key_index.py), so a batch read again after a crash, or by two members at once in
a rebalance, is not metered twice. A crash in the instant between the write and the
ledger append loses that batch's entries: the ledger may under-count, never bill twice
(`aifactory usage reconcile` names such a gap).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from governance.ledger import Ledger, UsageEntry
from governance.signals import SignalLog

Rows = list[dict[str, Any]]


def meter_ingest(ledger: Ledger, run_id: Callable[[], str],
                 tokens: Callable[[str, str], int] | None = None) -> Callable[[Rows], None]:
    """Documents (upserts) and their text's UTF-8 bytes, under the run that scanned them;
    and `tokens(tenant, text)` where given (the ingest quota's figure)."""
    def on_landed(rows: Rows) -> None:
        per: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        for row in rows:
            if row["op"] != "upsert":
                continue
            n = per[(row["run_id"] or run_id(), row["tenant"], row["region"])]
            n[0] += 1
            n[1] += len(row["text"].encode())
            n[2] += tokens(row["tenant"], row["text"]) if tokens else 0
        ledger.append([UsageEntry(run_id=run, tenant=tenant, region=region, event="ingest", documents=docs,
                                  bytes=size, tokens=toks)
                       for (run, tenant, region), (docs, size, toks) in sorted(per.items())])
    return on_landed


def meter_chunking(ledger: Ledger, run_id: Callable[[], str],
                   signals: SignalLog | None = None) -> Callable[[Rows], None]:
    """Chunks produced (tombstones of deletes are not chunks), under the run that drove them;
    those quarantined by injection screening are counted as a threat signal too."""
    def on_landed(rows: Rows) -> None:
        per: dict[tuple[str, str], int] = defaultdict(int)
        quarantined: dict[str, int] = defaultdict(int)
        for row in rows:
            if row["op"] == "upsert":
                per[(row["tenant"], row["region"])] += 1
                quarantined[row["tenant"]] += bool(row.get("quarantined"))
        ledger.append([UsageEntry(run_id=run_id(), tenant=tenant, region=region, event="chunking", chunks=n)
                       for (tenant, region), n in sorted(per.items())])
        if signals is not None:
            signals.raise_("injection", quarantined)
    return on_landed
