"""A resident follower's view of the raw lake answers what the lake's queries answer,
reading only the files that appeared since its last refresh."""

from __future__ import annotations

from pathlib import Path

from ingest import raw_table
from ingest.lake import Lake
from ingest.raw_view import RawView
from ingest.tables import RAW
from tests.unit.ingest.test_raw_table import event, filled, land


def agrees(view: RawView, lake: Lake) -> None:
    view.refresh()
    for tenant in ("acme", "globex", "nobody"):
        assert view.latest_versions(tenant) == raw_table.latest_versions(lake, tenant)
        assert view.erased_subjects(tenant) == raw_table.erased_subjects(lake, tenant)


def test_it_follows_new_files_as_the_queries_would(tmp_path: Path) -> None:
    lake, _ = filled(tmp_path)
    view = RawView(lake)
    agrees(view, lake)
    land(lake, event("acme", "a.md", 3, op="delete", requested="del-2", subjects=["subj-2"]))
    agrees(view, lake)
    # An older upsert landing late (a recovery) changes neither the latest version nor its upsert.
    land(lake, event("acme", "a.md", 1, "first text again"))
    agrees(view, lake)
    land(lake, event("acme", "d.md", 1, "new"), event("globex", "c.md", 2, "sea text, revised", region="us-east"))
    agrees(view, lake)
    assert view.latest_versions("acme")["acme:a.md"].version == 3


def test_a_rewritten_table_is_read_again_whole(tmp_path: Path) -> None:
    lake, _ = filled(tmp_path)
    view = RawView(lake)
    agrees(view, lake)
    lake.remove_rows(RAW, "document_id", {"acme:b.md"})  # an erasure rewrites the files that held it
    agrees(view, lake)
    assert "acme:b.md" not in view.latest_versions("acme") and view.erased_subjects("acme") == set()
