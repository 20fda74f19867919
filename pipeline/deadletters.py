"""The dead-letter store, for people: what failed, why, and whether it has been
fixed since; and a replay that sends the failed inputs through again."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from ingest import raw_table
from ingest.sources import Source
from pipeline import lake_views, runner
from pipeline.factory import Factory


def list_dead_letters(factory: Factory, *, include_resolved: bool = False) -> list[dict[str, Any]]:
    """The dead letters (`lake_views.DeadLetterState`, as dicts), oldest first: the open
    ones, or every one. An ingest failure is resolved once its file produced an event
    after the failure; a transform failure once its event has chunks."""
    return [asdict(d) for d in lake_views.dead_letter_states(factory.lake) if include_resolved or not d.resolved]


def replay_dead_letters(factory: Factory, *, progress: bool = False) -> runner.RunReport:
    """Send every unresolved dead letter's input through the pipeline again: the
    source folders of failed files are rescanned (only changed files publish), and
    failed events are republished from the raw lake. Ids are derived, so what had
    already gone through is not duplicated, and what still fails dead-letters once."""
    open_letters = [d for d in lake_views.dead_letter_states(factory.lake) if not d.resolved]
    sources = sorted({(d.source_root, d.tenant, d.jurisdiction) for d in open_letters
                      if d.stage == "ingest" and d.source_root})
    event_ids = sorted({d.event_id for d in open_letters if d.event_id})
    retry = raw_table.events_by_id(factory.lake, event_ids) if event_ids else []
    roots = [Source(Path(unquote(urlparse(root).path)), tenant, jurisdiction)
             for root, tenant, jurisdiction in sources]
    # Privileged: quarantined and refused inputs go through the pipeline again. The tenants, not
    # the paths or reasons, which may name people.
    tenants = sorted({d.tenant for d in open_letters})
    factory.audit.append("deadletters.replay", ",".join(tenants) or "*", letters=len(open_letters),
                         folders=len(roots), events=len(retry))
    report = runner.run(factory, roots, retry=retry, progress=progress)
    factory.audit.append("deadletters.replayed", ",".join(tenants) or "*", run_id=report.run_id,
                         published=report.published, retried=report.recovered,
                         dead_letters=report.dead_letters_landed)
    return report
