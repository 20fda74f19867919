"""The index folds only passages that are the same to a reader, and every folded
document can still be found and cited."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.sources import Source
from pipeline import runner
from tests.conftest import MakeFactory
from vectorstore.search import search
from vectorstore.sync import plan

pytestmark = pytest.mark.integration

# Long shared boilerplate, four words apart: the old SimHash folding put these 1-6 bits apart.
SITES = [("Bremen", "Weber", 12, 3), ("Kiel", "Brandt", 7, 1), ("Leipzig", "Hoffmann", 19, 4),
         ("Hamburg", "Krüger", 5, 2), ("Dresden", "Vogt", 23, 6)]


def report(site: str, engineer: str, robots: int, faults: int) -> str:
    return (f"# Site report\nWeekly inspection of the warehouse at site {site} by engineer {engineer}. "
            "The charging bay, the conveyor belts, the emergency stops and the fire doors were checked "
            "against the safety checklist, and the floor markings were repainted where worn. "
            f"Robots checked: {robots}. Faults found: {faults}. All faults were logged in the maintenance "
            "system and the next inspection is scheduled for the same weekday next week.")


def test_distinct_reports_stay_distinct_and_copies_fold_but_stay_citable(tmp_path: Path,
                                                                         make_factory: MakeFactory) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for n, site in enumerate(SITES, start=1):
        (src / f"site-{n}.md").write_text(report(*site))
    policy = "# Leave policy\nEmployees take 30 days of paid leave a year, booked in the HR portal."
    (src / "policy.md").write_text(policy)
    (src / "policy-copy.md").write_text("#   LEAVE POLICY\n\nEmployees take 30 days of paid leave a year -- booked "
                                        "in the HR portal!")
    factory = make_factory(tmp_path / "home")
    runner.run(factory, [Source(src, "t1", "EU")])

    assert plan(factory.lake, factory.index.model_id).duplicates == 1  # the copy, nothing else
    for n, (site, engineer, _, _) in enumerate(SITES, start=1):
        [best, *_] = search(factory.index, factory.embedder, f"inspection at site {site} by engineer {engineer}",
                            tenant="t1", top_k=3)
        assert best.document_id == f"t1:site-{n}.md", (site, best.document_id)

    # The copy has no point of its own, yet a filter on it finds the shared one, which cites it.
    hits = search(factory.index, factory.embedder, "how many days of leave", tenant="t1", top_k=3,
                  filters={"document_id": "t1:policy-copy.md"})
    assert hits, "a folded document could not be found by its id"
    cited = {hits[0].document_id, *(d["document_id"] for d in hits[0].also_in)}
    assert cited == {"t1:policy.md", "t1:policy-copy.md"}
