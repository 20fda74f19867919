"""A person's review of what the screener quarantined: list, release, hold again.

    lake (current chunks, quarantined) --list--> reviewer
    reviewer --release/hold--> governance/releases.jsonl (+ audit) --index sync--> the point's
        screening: released (searchable by default) or quarantined again

The lake keeps the screener's verdict; a release is a decision beside it, which every
sync (one-shot, the running indexer, a rebuild from the lake) applies. After the decision
the command waits for the running indexer, or syncs the index itself.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from governance.audit import actor
from governance.releases import Decision, Release
from pipeline.client import wait_indexed
from pipeline.errors import QuarantineError
from pipeline.factory import Factory
from pipeline.sync_checkpoint import tenant_of
from transforms import chunk_table
from transforms.tables import CHUNKS

PREVIEW = 160  # characters of each chunk's text a listing shows


@dataclass(frozen=True)
class Reviewed:
    """A chunk the screener quarantined, and the review in force (None: still quarantined)."""

    chunk_id: str
    document_id: str
    source_uri: str
    section: str
    reasons: list[str]
    text: str
    release: dict[str, str] | None

    def as_dict(self) -> dict[str, Any]:
        return {"chunk_id": self.chunk_id, "document_id": self.document_id, "source_uri": self.source_uri,
                "section": self.section, "reasons": self.reasons, "text": self.text, "release": self.release,
                "state": "released" if self.release else "quarantined"}


def quarantined(factory: Factory, tenant: str) -> list[Reviewed]:
    """The tenant's current chunks the screener quarantined, released ones included."""
    files = [f for f in factory.lake.files(CHUNKS) if tenant_of(f) == tenant]
    released = factory.releases.current()
    out = []
    for row in chunk_table.current_rows(factory.lake, files) if files else []:
        if row["tenant"] != tenant or not row["quarantined"]:
            continue
        release = released.get((tenant, row["chunk_id"]))
        out.append(Reviewed(chunk_id=row["chunk_id"], document_id=row["document_id"], source_uri=row["source_uri"],
                            section=row["section"] or "", reasons=json.loads(row["screening_reasons"] or "[]"),
                            text=row["text"] or "", release=release.note() if release else None))
    return out


@dataclass
class Review:
    decision: Decision
    recorded: list[Release]
    unchanged: list[str]  # chunks already in the state asked for
    indexed_by: str  # "the running indexer" or "this command"


def review(factory: Factory, tenant: str, chunk_ids: list[str], *, decision: Decision, reason: str) -> Review:
    """Release chunks the screener quarantined (or hold released ones again), then make
    the index follow."""
    reason = reason.strip()
    if not reason:
        raise QuarantineError("give a --reason: the review is audited, and a release without one cannot be "
                              "checked later")
    listed = {r.chunk_id: r for r in quarantined(factory, tenant)}
    unknown = [c for c in chunk_ids if c not in listed]
    if unknown:
        raise QuarantineError(f"{', '.join(unknown)}: not a quarantined chunk of tenant {tenant!r} (a chunk id "
                              f"names one text; an edited chunk is screened again); see `aifactory quarantine "
                              f"list --tenant {tenant}`")
    wanted = [c for c in dict.fromkeys(chunk_ids) if (listed[c].release is None) == (decision == "release")]
    unchanged = [c for c in dict.fromkeys(chunk_ids) if c not in wanted]
    recorded = factory.releases.record(tenant, wanted, decision=decision, reason=reason, by=actor()) \
        if wanted else []
    for r in recorded:
        factory.audit.append(f"screening.{decision}", tenant, chunk_id=r.chunk_id,
                             document_id=listed[r.chunk_id].document_id, reason=reason)
    indexed_by = "nothing to do"
    if recorded:
        if wait_indexed(factory, time.time()):
            indexed_by = "the running indexer"
        else:
            factory.sync_index(run_id=f"review-{uuid.uuid4().hex[:16]}")
            indexed_by = "this command"
    return Review(decision, recorded, unchanged, indexed_by)
