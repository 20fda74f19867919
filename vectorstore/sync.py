"""Index synchronisation: make the index hold exactly what the chunk lake says.

The desired state is every chunk of each document's latest version (nothing for
a document whose latest record is a tombstone). Point ids are derived from
document, version, chunk number and model, so the difference between desired and
present ids is the whole plan: embed and upsert what is missing, delete what is
extra. Killed at any moment and run again, it converges to the same index.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from governance.contracts import point_id
from ingest.lake import Lake
from transforms.tables import CHUNKS
from vectorstore.embedder import Embedder
from vectorstore.index import IndexPoint, VectorIndex

log = logging.getLogger(__name__)

EMBED_BATCH = 256

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
    repointed: int = 0  # kept their vector, got the payload of a newer version
    unchanged: int = 0
    embed_seconds: float = 0.0
    by_region: dict[str, int] = field(default_factory=dict)


def payload(row: dict[str, Any], model_id: str) -> dict[str, Any]:
    """What a point carries: enough to cite it, filter it and trace it back to its event."""
    return {
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
        "log_epoch": row["raw_epoch"], "model": model_id,
    }


def desired_points(lake: Lake, model_id: str) -> dict[str, dict[str, dict[str, Any]]]:
    """region -> point id -> chunk row, for what the index should hold."""
    con = lake.connect(CHUNKS)
    cur = con.execute(DESIRED_SQL)
    cols = [d[0] for d in cur.description]
    out: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for values in cur.fetchall():
        row = dict(zip(cols, values, strict=True))
        out[row["region"]][point_id(row["chunk_id"], model_id)] = row
    con.close()
    return out


def embedding_text(row: dict[str, Any]) -> str:
    # The title gives a chunk from the middle of a document its topic.
    return f"{row['title']}\n{row['text']}" if row["title"] else row["text"]


def sync_index(lake: Lake, index: VectorIndex, embedder: Embedder, *, progress: bool = False) -> SyncReport:
    model_id = embedder.fingerprint.id
    desired = desired_points(lake, model_id)
    report = SyncReport()
    for region in sorted(set(desired) | set(index.regions())):
        want = desired.get(region, {})
        have = index.row_ids(region)  # point id -> the chunk row it was written from
        extra = set(have) - set(want)
        missing = [pid for pid in want if pid not in have]
        # Same content in a newer version: the vector stands, the payload (lineage) moves on.
        moved = {pid: payload(want[pid], model_id) for pid in want
                 if pid in have and have[pid] != want[pid]["row_id"]}
        report.unchanged += len(set(have) & set(want)) - len(moved)
        if extra:
            index.delete(region, extra)
            report.deleted += len(extra)
        if moved:
            index.set_payloads(region, moved)
            report.repointed += len(moved)
        # Length-sorted batches pad less.
        missing.sort(key=lambda pid: len(want[pid]["text"]))
        bar = tqdm(total=len(missing), desc=f"embed {region}", unit="chunk", disable=not progress or not missing)
        for start in range(0, len(missing), EMBED_BATCH):
            ids = missing[start:start + EMBED_BATCH]
            began = time.perf_counter()
            vectors = embedder.embed([embedding_text(want[pid]) for pid in ids])
            report.embed_seconds += time.perf_counter() - began
            index.upsert(region, [IndexPoint(pid, vec, payload(want[pid], model_id))
                                  for pid, vec in zip(ids, vectors, strict=True)])
            report.upserted += len(ids)
            bar.update(len(ids))
        bar.close()
        report.by_region[region] = len(want)
    log.info("index sync: %d upserted, %d deleted, %d repointed, %d unchanged", report.upserted, report.deleted,
             report.repointed, report.unchanged)
    return report
