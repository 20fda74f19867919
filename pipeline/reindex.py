"""`aifactory reindex --model M`: change the embedding model with no downtime.

The new model's collections are built beside the old ones (one per region, named
by the model's fingerprint) from the chunks lake, completely, and only then is the
active model switched, in one atomic rename; on a Qdrant server the per-region
aliases `chunks__<region>` are swapped in one request too. Searches resolve the
active model when they start, so they see the old collections until the switch
and the complete new ones after it: never an error, never an empty answer. The
old collections stay until `--drop-old` (or the next reindex) removes them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from pipeline.factory import Factory
from vectorstore.embedder import load_embedder
from vectorstore.index import collection_name
from vectorstore.sync import SyncReport, plan, sync_index


@dataclass
class ReindexReport:
    old_model: str | None
    new_model: str
    sync: SyncReport
    dropped: list[str]


def reindex(factory: Factory, model: str, *, drop_old: bool = False, progress: bool = False) -> ReindexReport:
    with factory.writing():
        return _reindex(factory, model, drop_old=drop_old, progress=progress)


def _reindex(factory: Factory, model: str, *, drop_old: bool, progress: bool) -> ReindexReport:
    previous = factory.active_model()
    embedder = load_embedder(model, factory.settings.embedding_device, precision=factory.settings.embedding_precision)
    fp = embedder.fingerprint
    factory.audit.append("index.reindex", "*", old_model=previous["id"] if previous else None, new_model=fp.id,
                         drop_old=drop_old)
    target = factory.open_index(fp.id, fp.dimension)
    try:
        run_id = f"reindex-{uuid.uuid4().hex[:16]}"
        desired = plan(factory.lake, fp.id, released=factory.releases.current())  # a reviewer's releases too
        report = sync_index(factory.lake, target, embedder, progress=progress, ledger=factory.ledger,
                            carbon=factory.carbon, run_id=run_id, compute=factory.compute, desired=desired)
        factory.refused_compute(report, run_id)
        regions = target.regions()
        aliases = getattr(target, "point_aliases", None)  # a Qdrant server's; Qdrant Edge has no aliases
        if aliases is not None:
            aliases(regions)
    finally:
        target.close()
    factory.activate(embedder)  # the switch
    dropped: list[str] = []
    if drop_old and previous and previous["id"] != fp.id:
        old = factory.open_index(previous["id"], previous["dimension"])
        try:
            for region in old.regions():
                dropped.append(collection_name(region, previous["id"]))
                old.drop(region)
        finally:
            old.close()
    factory.audit.append("index.reindexed", "*", new_model=fp.id, upserted=report.upserted, dropped=dropped)
    return ReindexReport(old_model=previous["id"] if previous else None, new_model=fp.id, sync=report,
                         dropped=dropped)
