"""Edits and deletes at the source propagate to the lake, the index and search."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ingest.sources import Source
from ingest.tables import RAW
from pipeline import runner
from pipeline.factory import Factory
from pipeline.settings import PROJECT_ROOT
from pipeline.status import status
from tests.conftest import MakeFactory
from vectorstore.index import Hit
from vectorstore.search import search

pytestmark = pytest.mark.integration

CORPUS = PROJECT_ROOT / "examples" / "corpus" / "helio-us"


def copy_subset(dest: Path) -> Path:
    for rel in ("hr/parental-leave.md", "hr/travel-expenses.md", "support/tickets.jsonl",
                "products/atlas-amr-300-charging.html", "it/suspicious-login-report.txt"):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(CORPUS / rel, dest / rel)
    return dest


def points_of(factory: Factory) -> list[Hit]:
    return [h for r in factory.index.regions() for h in factory.index.points(r)]


@pytest.fixture
def indexed(tmp_path: Path, make_factory: MakeFactory) -> tuple[Path, Factory, Source]:
    """A copy of part of the corpus, run through the pipeline once."""
    root = copy_subset(tmp_path / "src")
    factory = make_factory(tmp_path / "home")
    source = Source(root, "helio-us", "US")
    runner.run(factory, [source])
    return root, factory, source


def test_deleted_file_and_record_disappear_from_index_and_search(indexed: tuple[Path, Factory, Source]) -> None:
    root, factory, source = indexed
    question = "What is the reimbursement rate per mile when I drive my own car for work?"
    assert search(factory.index, factory.embedder, question, tenant="helio-us", top_k=1)[0].document_id \
        == "helio-us:hr/travel-expenses.md"

    (root / "hr" / "travel-expenses.md").unlink()
    tickets = root / "support" / "tickets.jsonl"
    lines = tickets.read_text().splitlines()
    dropped = json.loads(lines[0])["id"]
    tickets.write_text("\n".join(lines[1:]) + "\n")
    report = runner.run(factory, [source])

    assert report.summary()["deleted"] == 2 and report.published == 2
    docs = {h.payload["document_id"] for h in points_of(factory)}
    assert "helio-us:hr/travel-expenses.md" not in docs
    assert f"helio-us:support/tickets.jsonl#{dropped}" not in docs
    assert "helio-us:hr/parental-leave.md" in docs
    hits = search(factory.index, factory.embedder, question, tenant="helio-us", top_k=10)
    assert all(h.document_id != "helio-us:hr/travel-expenses.md" for h in hits)
    counts = status(factory)["tenants"]["helio-us"]
    assert counts["documents"] == 5 + 6 - 2 - 1  # 4 files + 6 tickets, one file and one ticket gone
    con = factory.lake.connect(RAW)
    assert con.execute("SELECT count(*) FROM raw WHERE op = 'delete'").fetchone() == (2,)
    con.close()


def test_an_edit_reembeds_only_the_chunk_it_touches(indexed: tuple[Path, Factory, Source]) -> None:
    root, factory, source = indexed
    doc = "helio-us:it/suspicious-login-report.txt"
    old_ids = {h.id for h in points_of(factory) if h.payload["document_id"] == doc}

    path = root / "it" / "suspicious-login-report.txt"
    path.write_text(path.read_text() + "\nUpdate: the badge reader in lobby B was replaced on 2026-04-02.\n")
    report = runner.run(factory, [source])

    assert report.published == 1 and report.summary()["unchanged"] == 9
    points = [h for h in points_of(factory) if h.payload["document_id"] == doc]
    assert {h.payload["version"] for h in points} == {2}
    # Only the chunk that holds the edit is new; the others keep their vectors and follow v2.
    new_ids = {h.id for h in points}
    assert len(new_ids - old_ids) == 1 and len(old_ids - new_ids) == 1
    assert report.index is not None and report.index.upserted == 1 and report.index.deleted == 1
    assert report.index.repointed == len(old_ids & new_ids) > 0
    hits = search(factory.index, factory.embedder, "When was the badge reader in lobby B replaced?",
                  tenant="helio-us", top_k=1)
    assert hits[0].document_id == doc and hits[0].lineage["version"] == 2


def test_duplicate_chunks_within_a_tenant_are_indexed_once(tmp_path: Path, make_factory: MakeFactory) -> None:
    root = tmp_path / "src"
    root.mkdir()
    footer = ("## Confidentiality\nThis document is internal to Helio Robotics. Do not forward it outside the "
              "company. Questions about handling go to the information security team, who answer within two "
              "working days and keep a register of every exception that was granted this year.")
    (root / "a.md").write_text(f"# Forklift safety\nHelmets are required in aisle 7.\n{footer}")
    (root / "b.md").write_text(f"# Conveyor upkeep\nBelts are checked every Monday.\n{footer}")
    # The same words in other case and spacing: the same to a reader.
    (root / "c.md").write_text(f"# Canteen\nLunch is served from noon.\n{footer.upper().replace('. ', '.   ')}")
    # One word apart: another statement, never folded (a near duplicate).
    (root / "d.md").write_text(f"# Parking\nSpaces are free.\n{footer.replace('two', 'three')}")
    factory = make_factory(tmp_path / "home")
    report = runner.run(factory, [Source(root, "acme", "EU")])
    assert report.index is not None and report.index.duplicates == 2
    points = [h for h in points_of(factory) if h.payload["section"].lower().endswith("confidentiality")]
    assert sorted(p.payload["document_id"] for p in points) == ["acme:a.md", "acme:d.md"]
    [point] = [p for p in points if p.payload["document_id"] == "acme:a.md"]
    assert sorted((d["document_id"], d["kind"]) for d in point.payload["duplicates"]) == [
        ("acme:b.md", "exact"), ("acme:c.md", "same words")]

    (root / "a.md").unlink()  # the kept chunk's document goes: the family keeps one point, now b's
    runner.run(factory, [Source(root, "acme", "EU")])
    [point] = [h for h in points_of(factory) if h.payload["section"].lower().endswith("confidentiality")
               and h.payload["document_id"] != "acme:d.md"]
    assert point.payload["document_id"] == "acme:b.md"
    assert [d["document_id"] for d in point.payload["duplicates"]] == ["acme:c.md"]
