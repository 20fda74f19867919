"""Counts per stage and tenant, read from the lake and the index."""

from __future__ import annotations

from typing import Any

from ingest.tables import DEAD_LETTERS, RAW
from pipeline.factory import Factory
from transforms.tables import CHUNKS
from vectorstore.sync import plan

COUNTS_SQL = """
WITH tenants AS (
    SELECT tenant FROM raw UNION SELECT tenant FROM chunks UNION SELECT tenant FROM dead_letters
),
latest AS (
    SELECT tenant, op FROM raw
    QUALIFY row_number() OVER (PARTITION BY document_id ORDER BY version DESC) = 1
),
current_chunks AS (
    SELECT c.tenant, c.quarantined FROM chunks c
    JOIN (SELECT document_id, max(version) AS version FROM chunks GROUP BY document_id) l
      USING (document_id, version)
    WHERE c.op = 'upsert'
)
SELECT t.tenant,
       (SELECT count(*) FROM raw r WHERE r.tenant = t.tenant) AS events,
       (SELECT count(*) FROM latest l WHERE l.tenant = t.tenant AND l.op = 'upsert') AS documents,
       (SELECT count(*) FROM chunks c WHERE c.tenant = t.tenant AND c.op = 'upsert') AS chunk_rows,
       (SELECT count(*) FROM current_chunks c WHERE c.tenant = t.tenant) AS current_chunks,
       (SELECT count(*) FROM current_chunks c WHERE c.tenant = t.tenant AND c.quarantined) AS quarantined,
       (SELECT count(*) FROM dead_letters d WHERE d.tenant = t.tenant) AS dead_letters
FROM tenants t ORDER BY t.tenant
"""


def status(factory: Factory) -> dict[str, Any]:
    con = factory.lake.connect(RAW, CHUNKS, DEAD_LETTERS)
    cur = con.execute(COUNTS_SQL)
    cols = [d[0] for d in cur.description]
    tenants = {r[0]: dict(zip(cols[1:], r[1:], strict=True)) for r in cur.fetchall()}
    con.close()
    index = factory.index_without_model()
    regions = index.regions() if index else []
    duplicates = plan(factory.lake, index.model_id).duplicates if index else 0
    for tenant, counts in tenants.items():
        counts["points"] = sum(index.count(r, tenant=tenant) for r in regions) if index else 0
    totals = {k: sum(c[k] for c in tenants.values()) for k in
              ("events", "documents", "chunk_rows", "current_chunks", "quarantined", "dead_letters", "points")}
    totals["duplicates_folded"] = duplicates
    return {
        "home": str(factory.settings.home.resolve()),
        "model": index.model_id if index else None,
        "regions": regions,
        "tenants": tenants,
        "totals": totals,
    }
