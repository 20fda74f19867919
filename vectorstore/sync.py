"""Index synchronisation: make the index hold exactly what the chunk lake says.

The desired state is every chunk of each document's latest version (nothing for
a document whose latest record is a tombstone), one point per family of exact or
near-duplicate chunks within a tenant: the first chunk of the family is indexed
and the payload lists the others. Point ids are derived from the chunk and the
model, so the difference between desired and present ids is the whole plan:
embed and upsert what is missing, delete what is extra, rewrite the payload of a
point whose digest changed (same content, newer version or other duplicates).
Killed at any moment and run again, it converges to the same index.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from governance.contracts import point_id
from governance.ledger import Ledger, UsageEntry
from ingest.lake import Lake
from transforms.dedup import families
from transforms.tables import CHUNKS
from transforms.tokens import token_counter
from vectorstore.embedder import Embedder
from vectorstore.index import IndexPoint, VectorIndex
from vectorstore.sparse import document_vector

log = logging.getLogger(__name__)

EMBED_BATCH = int(os.environ.get("AIFACTORY_EMBED_BATCH", "256"))  # texts embedded and upserted at a time

DESIRED_SQL = """
WITH latest AS (
    SELECT document_id, max(version) AS version FROM chunks GROUP BY document_id
)
SELECT c.* EXCLUDE (landed_at, log_epoch, log_topic, log_partition, log_offset)
FROM chunks c JOIN latest l USING (document_id, version)
WHERE c.op = 'upsert'
ORDER BY c.document_id, c.chunk_no
"""


@dataclass
class SyncReport:
    upserted: int = 0
    deleted: int = 0
    repointed: int = 0  # kept their vector, got a new payload (newer version, other duplicates)
    duplicates: int = 0  # current chunks folded into another chunk's point
    unchanged: int = 0
    embed_seconds: float = 0.0
    by_region: dict[str, int] = field(default_factory=dict)


def payload(row: dict[str, Any], model_id: str, duplicates: list[dict[str, Any]]) -> dict[str, Any]:
    """What a point carries: enough to cite it, filter it and trace it back to its event."""
    body = {
        "tenant": row["tenant"], "jurisdiction": row["jurisdiction"], "region": row["region"],
        "document_id": row["document_id"], "version": row["version"], "chunk_no": row["chunk_no"],
        "chunk_id": row["chunk_id"], "row_id": row["row_id"], "event_id": row["event_id"],
        "title": row["title"], "text": row["text"], "source_uri": row["source_uri"],
        "section": row["section"], "page": row["page"], "event_time": row["event_time"].isoformat(),
        "chunker": row["chunker"], "screener": row["screener"], "quarantined": bool(row["quarantined"]),
        "screening": "quarantined" if row["quarantined"] else "clear",
        "screening_reasons": json.loads(row["screening_reasons"] or "[]"),
        "pii": json.loads(row["pii"] or "{}"),
        "topic": row["raw_topic"], "partition": row["raw_partition"], "offset": row["raw_offset"],
        "log_epoch": row["raw_epoch"], "model": model_id, "duplicates": duplicates,
    }
    body["digest"] = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return body


@dataclass
class Plan:
    """region -> point id -> (the chunk row it is written from, its payload)."""

    points: dict[str, dict[str, tuple[dict[str, Any], dict[str, Any]]]]
    duplicates: int  # current chunks folded into another chunk's point

    def region(self, region: str) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
        return self.points.get(region, {})


def plan(lake: Lake, model_id: str) -> Plan:
    con = lake.connect(CHUNKS)
    cur = con.execute(DESIRED_SQL)
    cols = [d[0] for d in cur.description]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for values in cur.fetchall():
        row = dict(zip(cols, values, strict=True))
        groups[(row["region"], row["tenant"])].append(row)
    con.close()
    points: dict[str, dict[str, tuple[dict[str, Any], dict[str, Any]]]] = defaultdict(dict)
    folded = 0
    for (region, _tenant), rows in groups.items():
        for family in families(rows, exact=lambda r: r["content_hash"],
                               fingerprint=lambda r: int(r["simhash"] or "0", 16),
                               order=lambda r: (r["document_id"], r["chunk_no"])):
            head, rest = family[0], family[1:]
            dups = [{"document_id": r["document_id"], "chunk_id": r["chunk_id"], "source_uri": r["source_uri"],
                     "kind": "exact" if r["content_hash"] == head["content_hash"] else "near"} for r in rest]
            points[region][point_id(head["chunk_id"], model_id)] = (head, payload(head, model_id, dups))
            folded += len(rest)
    return Plan(points, folded)


def embedding_text(row: dict[str, Any]) -> str:
    # The title gives a chunk from the middle of a document its topic.
    return f"{row['title']}\n{row['text']}" if row["title"] else row["text"]


def meter(rows: list[dict[str, Any]], texts: list[str], seconds: float, embedder: Embedder, run_id: str,
          ledger: Ledger) -> None:
    """One ledger entry per tenant for one embedded batch; compute time is shared by tokens."""
    limit = token_counter(embedder.model_path).max_seq_length - 2  # the model reads no more than this
    tokens = [min(n, limit) for n in token_counter(embedder.model_path).count_many(texts)]
    per: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for row, n in zip(rows, tokens, strict=True):
        per[(row["tenant"], row["region"])][0] += 1
        per[(row["tenant"], row["region"])][1] += n
    total = sum(tokens) or 1
    ledger.append([UsageEntry(run_id=run_id, tenant=tenant, region=region, event="embedding", texts=count,
                              tokens=n, compute_seconds=seconds * n / total, device=embedder.device_name,
                              model=embedder.fingerprint.id)
                   for (tenant, region), (count, n) in sorted(per.items())])


def sync_index(lake: Lake, index: VectorIndex, embedder: Embedder, *, progress: bool = False,
               ledger: Ledger | None = None, run_id: str = "") -> SyncReport:
    """Make the index equal to the plan; meter each embedded batch to `ledger`,
    right after the compute is spent (before the upsert: the cost is real even if
    the write is lost and redone)."""
    model_id = embedder.fingerprint.id
    desired = plan(lake, model_id)
    report = SyncReport(duplicates=desired.duplicates)
    for region in sorted(set(desired.points) | set(index.regions())):
        want = desired.region(region)
        have = index.digests(region)  # point id -> digest of its payload
        extra = set(have) - set(want)
        missing = [pid for pid in want if pid not in have]
        # Same content, other lineage or duplicates: the vector stands, the payload is rewritten.
        moved = {pid: want[pid][1] for pid in want if pid in have and have[pid] != want[pid][1]["digest"]}
        report.unchanged += len(set(have) & set(want)) - len(moved)
        if extra:
            index.delete(region, extra)
            report.deleted += len(extra)
        if moved:
            index.set_payloads(region, moved)
            report.repointed += len(moved)
        # Length-sorted batches pad less.
        missing.sort(key=lambda pid: len(want[pid][0]["text"]))
        bar = tqdm(total=len(missing), desc=f"embed {region}", unit="chunk", disable=not progress or not missing)
        for start in range(0, len(missing), EMBED_BATCH):
            ids = missing[start:start + EMBED_BATCH]
            began = time.perf_counter()
            texts = [embedding_text(want[pid][0]) for pid in ids]
            vectors = embedder.embed(texts)
            spent = time.perf_counter() - began
            report.embed_seconds += spent
            if ledger is not None:
                meter([want[pid][0] for pid in ids], texts, spent, embedder, run_id, ledger)
            index.upsert(region, [IndexPoint(pid, vec, want[pid][1], document_vector(embedding_text(want[pid][0])))
                                  for pid, vec in zip(ids, vectors, strict=True)])
            report.upserted += len(ids)
            bar.update(len(ids))
        bar.close()
        report.by_region[region] = len(want)
    if report.upserted or report.deleted:
        index.optimize()
    log.info("index sync: %d upserted, %d deleted, %d repointed, %d unchanged, %d duplicates folded",
             report.upserted, report.deleted, report.repointed, report.unchanged, report.duplicates)
    return report
