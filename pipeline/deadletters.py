"""The dead-letter store, for people: what failed, why, and whether it has been
fixed since; and a replay that sends the failed inputs through again."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from ingest.sources import Source
from ingest.tables import DEAD_LETTERS, RAW, event_from_row
from pipeline import runner
from pipeline.factory import Factory
from transforms.tables import CHUNKS

# An ingest failure is resolved once its file produced an event after the failure;
# a transform failure once its event has chunks.
LIST_SQL = """
SELECT d.dead_letter_id, d.stage, d.error_class, d.reason, d.source_uri, d.source_root, d.tenant,
       d.jurisdiction, d.region, d.event_id, d.original_uri, d.occurred_at,
       CASE WHEN d.event_id <> ''
            THEN EXISTS (SELECT 1 FROM chunks c WHERE c.event_id = d.event_id)
            ELSE EXISTS (SELECT 1 FROM raw r WHERE (r.source_uri = d.source_uri
                                                     OR starts_with(r.source_uri, d.source_uri || '#'))
                                               AND r.landed_at > d.occurred_at)
       END AS resolved
FROM dead_letters d
ORDER BY d.occurred_at, d.dead_letter_id
"""


def list_dead_letters(factory: Factory, *, include_resolved: bool = False) -> list[dict[str, Any]]:
    con = factory.lake.connect(DEAD_LETTERS, RAW, CHUNKS)
    cur = con.execute(LIST_SQL)
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    con.close()
    return [r for r in rows if include_resolved or not r["resolved"]]


def replay_dead_letters(factory: Factory, *, progress: bool = False) -> runner.RunReport:
    """Send every unresolved dead letter's input through the pipeline again: the
    source folders of failed files are rescanned (only changed files publish), and
    failed events are republished from the raw lake. Ids are derived, so what had
    already gone through is not duplicated, and what still fails dead-letters once."""
    open_letters = list_dead_letters(factory)
    sources = sorted({(r["source_root"], r["tenant"], r["jurisdiction"]) for r in open_letters
                      if r["stage"] == "ingest" and r["source_root"]})
    event_ids = sorted({r["event_id"] for r in open_letters if r["event_id"]})
    retry = []
    if event_ids:
        con = factory.lake.connect(RAW)
        cur = con.execute("SELECT * FROM raw WHERE list_contains(?, event_id) ORDER BY document_id, version",
                          [event_ids])
        cols = [d[0] for d in cur.description]
        retry = [event_from_row(dict(zip(cols, r, strict=True))) for r in cur.fetchall()]
        con.close()
    roots = [Source(Path(unquote(urlparse(root).path)), tenant, jurisdiction)
             for root, tenant, jurisdiction in sources]
    return runner.run(factory, roots, retry=retry, progress=progress)
