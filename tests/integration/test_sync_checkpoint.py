"""A one-shot index sync compares only the tenants whose chunks changed since the last
finished sync, and compares everything when it cannot trust what it saw last: a
rebuilt table, an index changed by someone else, `aifactory index`."""

from __future__ import annotations

from pathlib import Path

import pytest

import pipeline.status
import transforms.process
from pipeline.factory import Factory
from pipeline.settings import FactorySettings
from pipeline.status import status
from tests.unit.vectorstore.test_live_plan import FOOTER, Lakeside
from transforms.tables import CHUNKS
from transforms.tokens import token_counter
from vectorstore.embedder import Embedder, default_model_path
from vectorstore.sync import plan

pytestmark = pytest.mark.integration


def index_points(factory: Factory) -> dict[str, set[str]]:
    return {r: ids for r in factory.index.regions() if (ids := factory.index.ids(r))}


def storage(factory: Factory, run_id: str) -> dict[tuple[str, str], int]:
    """The storage snapshots one sync metered: (tenant, region) -> vectors."""
    return {(e.tenant, e.region): e.vectors for e in factory.ledger.entries()
            if e.event == "storage" and e.run_id == run_id}


def planned_points(factory: Factory) -> dict[str, set[str]]:
    desired = plan(factory.lake, factory.embedder.fingerprint.id)
    return {r: set(p) for r, p in desired.points.items() if p}


def test_a_one_shot_sync_compares_only_the_changed_tenants_and_ends_where_a_full_one_would(
        tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    side = Lakeside(tmp_path / "home" / "lake", token_counter(default_model_path()))
    for n in range(4):
        side.land("acme", f"a{n}.md", 1, f"# Forklift rule {n}\nHelmets are required in aisle {n}.")
        side.land("beta", f"b{n}.md", 1, f"# Canteen note {n}\nLunch is served from noon on day {n}.")
    side.land("acme", "a0z.md", 1, "# Forklift rule 0\nHelmets are required in aisle 0.")  # folds into a0
    factory = Factory(FactorySettings(home=tmp_path / "home"), embedder=embedder)
    monkeypatch.setattr(pipeline.status, "plan", None)  # status plans nothing: the checkpoint keeps the figure
    try:
        first = factory.sync_index(run_id="r1")
        assert first.upserted == first.planned == 8 and first.digests_read == 0
        assert first.duplicates == status(factory)["totals"]["duplicates_folded"] == 1
        assert factory.sync_index(run_id="r2").planned == 0  # nothing new: nothing compared

        # One tenant changes, and a document moves from the EU to the US.
        side.land("beta", "b1.md", 2, "# Canteen note 1\nLunch is now served from half past twelve.")
        side.land("beta", "b2.md", 2, op="delete")
        side.land("beta", "b3.md", 2, "# Canteen note 3\nThe US canteen opens at eleven.", jurisdiction="US")
        scoped = factory.sync_index(run_id="r3")
        # The changed documents' points only (beta's b0 is not read), in both regions.
        assert scoped.planned == 2 and scoped.digests_read == 3
        assert scoped.upserted == 2 and scoped.deleted == 3
        assert index_points(factory) == planned_points(factory)
        # Storage is metered for the partitions compared; acme's first snapshot stands.
        assert storage(factory, "r1") == {("acme", "eu-central"): 4, ("beta", "eu-central"): 4}
        assert storage(factory, "r3") == {("beta", "eu-central"): 2, ("beta", "us-east"): 1}
        assert status(factory)["totals"]["duplicates_folded"] == 1  # acme's, from the sync before

        # The head of a duplicate family changes: the document that was folded into it (found by its
        # reader key, not by reading acme's texts) gets a point of its own; acme's others are not read.
        side.land("acme", "a0.md", 2, "# Forklift rule 0\nHelmets and vests are required in aisle 0.")
        family = factory.sync_index(run_id="r3b")
        assert (family.planned, family.digests_read, family.upserted, family.deleted) == (2, 1, 2, 1)
        assert index_points(factory) == planned_points(factory)
        assert status(factory)["totals"]["duplicates_folded"] == 0

        # Points removed behind the sync's back: the counts differ, so it compares everything.
        region = "eu-central"
        gone = sorted(factory.index.ids(region))[:2]
        factory.index.delete(region, gone)
        side.land("beta", "b9.md", 1, "# Canteen note 9\nClosed on Fridays.")
        healed = factory.sync_index(run_id="r4")
        assert healed.planned == 9 and healed.upserted == 3
        assert index_points(factory) == planned_points(factory)

        # A rebuilt table (files gone) and `aifactory index` compare everything too.
        side.lake.drop(CHUNKS)
        side.land("acme", "a0.md", 1, "# Forklift rule 0\nHelmets are required in aisle 0.")
        rebuilt = factory.sync_index(run_id="r5")
        assert rebuilt.planned == 1 and rebuilt.deleted == 9 and index_points(factory) == planned_points(factory)
        assert status(factory)["totals"]["duplicates_folded"] == 0
        assert factory.sync_index(run_id="r6", full=True).planned == 1
    finally:
        factory.close()


def test_a_one_shot_sync_after_a_live_one_starts_from_what_the_live_one_saw(
        tmp_path: Path, embedder: Embedder) -> None:
    from pipeline.project import Project

    side = Lakeside(tmp_path / "home" / "lake", token_counter(default_model_path()))
    for n in range(3):
        side.land("acme", f"a{n}.md", 1, f"# Forklift rule {n}\nHelmets are required in aisle {n}.")
        side.land("beta", f"b{n}.md", 1, f"# Canteen note {n}\nLunch is served from noon on day {n}.")
    factory = Factory(FactorySettings(home=tmp_path / "home"), embedder=embedder)
    try:
        live = Project(factory, live=True)
        assert live("r1") is not None  # the services' indexer: a full live sync
        side.land("beta", "b1.md", 2, "# Canteen note 1\nLunch is now served from half past twelve.")
        report = live("r2")
        assert report is not None and report.planned == 1  # live: the changed document alone (LivePlan.narrowed)
        # The services stop; a one-shot run lands one more change and syncs it alone.
        side.land("acme", "a0.md", 2, "# Forklift rule 0\nHelmets and vests are required in aisle 0.")
        once = factory.sync_index(run_id="r3")
        assert once.planned == 1 and once.upserted == 1  # the changed document alone
        assert index_points(factory) == planned_points(factory)
    finally:
        factory.close()


def test_a_lake_from_before_reader_keys_is_compared_by_tenant(tmp_path: Path, embedder: Embedder,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows without a reader key (an older version wrote them) cannot be joined to their family
    by key: the sync compares the changed tenant whole, and still ends where a full one would."""
    side = Lakeside(tmp_path / "home" / "lake", token_counter(default_model_path()))
    with monkeypatch.context() as old:
        old.setattr(transforms.process, "reader_key", lambda text: "")
        for n in range(3):
            side.land("acme", f"a{n}.md", 1, f"# Forklift rule {n}\nHelmets are required in aisle {n}.")
        side.land("acme", "a0z.md", 1, "# Forklift rule 0\nHelmets are required in aisle 0.")  # folds into a0
    factory = Factory(FactorySettings(home=tmp_path / "home"), embedder=embedder)
    try:
        assert factory.sync_index(run_id="r1").planned == 3
        side.land("acme", "a0.md", 2, "# Forklift rule 0\nHelmets and vests are required in aisle 0.")
        whole = factory.sync_index(run_id="r2")
        assert whole.planned == 4 and whole.digests_read == 3  # the tenant whole: a1 and a2 are read too
        assert index_points(factory) == planned_points(factory)
    finally:
        factory.close()


def test_a_shared_footer_brings_its_family_not_every_document_that_has_it(tmp_path: Path,
                                                                            embedder: Embedder) -> None:
    side = Lakeside(tmp_path / "home" / "lake", token_counter(default_model_path()))
    for n in range(4):
        side.land("acme", f"d{n}.md", 1, f"# Rule {n}\nHelmets are required in aisle {n}.\n{FOOTER}")
    factory = Factory(FactorySettings(home=tmp_path / "home"), embedder=embedder)
    try:
        first = factory.sync_index(run_id="r1")
        assert first.planned == 5 and first.duplicates == 3  # four bodies, one footer point for four footers
        side.land("acme", "d2.md", 2, f"# Rule 2\nHelmets and vests are required in aisle 2.\n{FOOTER}")
        edit = factory.sync_index(run_id="r2")
        # d2's body and the footers' one point (its family read whole); the other bodies are not read.
        assert (edit.planned, edit.digests_read, edit.upserted, edit.deleted) == (2, 2, 1, 1)
        assert index_points(factory) == planned_points(factory)
        assert status(factory)["totals"]["duplicates_folded"] == 3
    finally:
        factory.close()
