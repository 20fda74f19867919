"""Stage 4, project: the index made equal to the chunks lake.

    chunks lake --desired point ids (vectorstore/sync.py) vs the ids in the index-->
        embed and upsert what is missing (vectors embedded ahead are reused),
        delete what is extra, meter embedding and storage

A one-shot pass plans from the whole lake. A live projection (resident mode) keeps
its plan and brings it up to date from the lake files that appeared since
(`vectorstore.sync.LivePlan`); when nothing appeared and the last sync finished,
the index already equals the plan and the pass costs nothing.
"""

from __future__ import annotations

from pipeline.factory import Factory
from vectorstore.ahead import EmbedAhead
from vectorstore.sync import LivePlan, SyncReport, sync_index


class Project:
    def __init__(self, factory: Factory, *, live: bool = False) -> None:
        self.factory = factory
        self.plan = LivePlan(factory.lake, factory.embedder.fingerprint.id) if live else None
        self._stale = True  # the index may differ from the plan (first pass, or a sync that did not finish)

    def __call__(self, run_id: str, *, progress: bool = False, ahead: EmbedAhead | None = None) -> SyncReport | None:
        """Sync the index; None when a live plan saw nothing new to do."""
        f = self.factory
        if self.plan is None:
            return f.sync_index(run_id=run_id, progress=progress, ahead=ahead)
        with f.syncing():
            return self._live(run_id, progress=progress, ahead=ahead)

    def _live(self, run_id: str, *, progress: bool, ahead: EmbedAhead | None) -> SyncReport | None:
        f, plan = self.factory, self.plan
        assert plan is not None
        desired, changed = plan.refresh()
        self._stale = self._stale or changed
        if not self._stale:
            return None
        report = sync_index(f.lake, f.index, f.embedder, ledger=f.ledger, run_id=run_id, desired=desired,
                            progress=progress, ahead=ahead)
        if report.upserted or report.deleted:
            f.meter_storage(run_id)
        self._stale = False
        return report
