"""Stage 4, project: the index made equal to the chunks lake.

    chunks lake --desired point ids (vectorstore/sync.py) vs the ids in the index-->
        embed and upsert what is missing (vectors embedded ahead are reused),
        delete what is extra, meter embedding and storage

A one-shot pass plans from the whole lake. A live projection (resident mode) keeps
its plan and brings it up to date from the lake files that appeared since
(`vectorstore.sync.LivePlan`); when nothing appeared and the last sync finished,
the index already equals the plan and the pass costs nothing. Its syncs compare only
the changed documents' duplicate families (`LivePlan.narrowed`; the changed tenants
whole on a lake written before reader keys were kept); the first one, and one every
FULL_RECONCILE_S, compares everything (what another writer or a restored index may
have changed).
"""

from __future__ import annotations

import time
from typing import Any

from governance.contracts import point_id
from pipeline.factory import Factory
from pipeline.sync_checkpoint import FULL_RECONCILE_S, Scope, SyncCheckpoint
from vectorstore.ahead import EmbedAhead
from vectorstore.sync import LivePlan, SyncReport, sync_index


class Project:
    def __init__(self, factory: Factory, *, live: bool = False, storage_every_s: float = 0.0) -> None:
        self.factory = factory
        self.plan = LivePlan(factory.lake, factory.embedder.fingerprint.id, factory.releases) if live else None
        self._stale = True  # the index may differ from the plan (first pass, or a sync that did not finish)
        # A storage snapshot after each change, or (the indexer) at most this often: it counts
        # every tenant's points, which a service applying one edit at a time need not pay each time.
        self.storage_every_s = storage_every_s
        self._storage_due: str | None = None  # the run id of a change whose snapshot is still to take
        self._storage_at = 0.0
        self._full_at = 0.0  # when a live sync last compared everything (0: never)

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
        full = plan.pending is None or time.monotonic() - self._full_at > FULL_RECONCILE_S
        narrowed = None if full else plan.narrowed()  # the changed documents' families only, when it can
        report = sync_index(f.lake, f.index, f.embedder, ledger=f.ledger, carbon=f.carbon, run_id=run_id,
                            desired=narrowed[0] if narrowed else desired, progress=progress, ahead=ahead,
                            scope=None if full else plan.pending, compute=f.compute,
                            narrow=narrowed[1] if narrowed else None)
        if narrowed:  # the regions' points as the whole plan counts them, not as the narrowed one does
            report.by_region = {region: len(desired.region(region)) for region in report.by_region}
        plan.synced()
        checkpoint = SyncCheckpoint(f.settings.home, f.embedder.fingerprint.id)
        if f.refused_compute(report, run_id):
            checkpoint.forget()  # what another region's worker must embed is still missing
        else:  # a one-shot sync after this one (the services stopped) starts from what it saw
            checkpoint.save(Scope(None if full else frozenset(), plan.files, releases_at=plan.releases_at), f.index,
                            desired.folded, complete=True)
        if full:
            self._full_at = time.monotonic()
        if report.upserted or report.deleted:
            self._storage_due = run_id
        self.meter_storage()
        self._stale = False
        return report

    def embed_announced(self, rows: list[dict[str, Any]], ahead: EmbedAhead) -> None:
        """Embed, into `ahead`, the announced chunk rows whose points the plan lacks: the
        indexer hears of chunks from their messages before a lander has written them,
        and embeds meanwhile instead of after (a live projection only)."""
        if self.plan is None:
            return
        held, model = self.plan.current.points, self.factory.embedder.fingerprint.id
        fresh = [r for r in rows if point_id(r["chunk_id"], model) not in held.get(r["region"], {})
                 and self.factory.may_embed(r)]
        ahead.embed_now(self.factory.embedder, fresh)

    def meter_storage(self, *, now: bool = False) -> None:
        """Take the storage snapshot a change asked for, when it is due (or `now`)."""
        if self._storage_due is None:
            return
        if now or time.monotonic() - self._storage_at >= self.storage_every_s:
            self.factory.meter_storage(self._storage_due)
            self._storage_due, self._storage_at = None, time.monotonic()
