"""Deletes asked for by a person: by document, by data subject, by tenant. Each
removes exactly the points it should, and the next scan of the unchanged
sources does not bring them back."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from ingest.sources import Source
from pipeline import runner
from pipeline.deletes import DeleteRequest, DeleteRequestError, delete
from pipeline.factory import Factory
from pipeline.settings import PROJECT_ROOT
from tests.conftest import MakeFactory
from tests.integration.conftest import indexed

pytestmark = pytest.mark.integration

CORPUS = PROJECT_ROOT / "examples" / "corpus"
EU_FILES = ("finance/bank-details-confirmation.txt", "meetings/2026-03-05-ops-review.txt",
            "engineering/onboarding-engineers.md", "hr/parental-leave.md")
US_FILES = ("hr/parental-leave.md", "hr/travel-expenses.md")
MIRIAM = ("helio-eu:finance/bank-details-confirmation.txt", "helio-eu:meetings/2026-03-05-ops-review.txt")


def copy(tenant: str, files: tuple[str, ...], dest: Path) -> Path:
    for rel in files:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(CORPUS / tenant / rel, dest / rel)
    return dest


def points_by_document(factory: Factory) -> Counter[str]:
    index = factory.index
    return Counter(h.payload["document_id"] for r in index.regions() for h in index.points(r))


@pytest.fixture
def two_tenants(tmp_path: Path, make_factory: MakeFactory) -> tuple[Factory, list[Source]]:
    return indexed(make_factory, tmp_path / "home",
                   [Source(copy("helio-eu", EU_FILES, tmp_path / "eu"), "helio-eu", "EU"),
                    Source(copy("helio-us", US_FILES, tmp_path / "us"), "helio-us", "US")])


def test_subject_delete_removes_exactly_the_documents_naming_them(two_tenants: tuple[Factory, list[Source]]) -> None:
    factory, sources = two_tenants
    before = points_by_document(factory)
    assert all(before[d] for d in MIRIAM)

    # Case differs from the documents: identifiers are matched in normal form.
    report = delete(factory, DeleteRequest("helio-eu", subject="Miriam.Vogt@Helio-Robotics.EU"))

    assert sorted(report.documents) == sorted(MIRIAM)
    after = points_by_document(factory)
    assert report.points_deleted == sum(before[d] for d in MIRIAM)
    assert after == Counter({d: n for d, n in before.items() if d not in MIRIAM})
    audit = factory.audit.path.read_text()
    assert "miriam" not in audit.lower(), "the audit log names the subject in clear"
    entries = [e for e in factory.audit.entries() if e["details"].get("request_id") == report.request_id]
    assert [e["action"] for e in entries] == ["delete.request", "delete.done"]
    assert len(entries[0]["details"]["subject"]) == 32 and factory.audit.verify().ok

    # The sources still hold both files; a run must not bring them back.
    again = runner.run(factory, sources)
    assert sum(r.held for r in again.ingest) == 2 and again.published == 0
    assert points_by_document(factory) == after
    # Nor does a new document that names the erased subject get in.
    eu = sources[0].root
    (eu / "finance" / "remittance.txt").write_text("Remittance advice: contact miriam.vogt@helio-robotics.eu\n")
    third = runner.run(factory, sources)
    assert sum(r.held for r in third.ingest) == 3
    assert "helio-eu:finance/remittance.txt" not in points_by_document(factory)


def test_document_delete_holds_until_the_source_changes(two_tenants: tuple[Factory, list[Source]]) -> None:
    factory, sources = two_tenants
    before = points_by_document(factory)
    target = "helio-eu:hr/parental-leave.md"

    report = delete(factory, DeleteRequest("helio-eu", document=target))

    assert report.documents == [target] and report.points_deleted == before[target]
    assert points_by_document(factory) == Counter({d: n for d, n in before.items() if d != target})
    assert sum(r.held for r in runner.run(factory, sources).ingest) == 1
    assert target not in points_by_document(factory)

    # A new text at the source is a new version: it comes back.
    path = sources[0].root / "hr" / "parental-leave.md"
    path.write_text(path.read_text() + "\n\nUpdated: the policy now also covers adoption.\n")
    runner.run(factory, sources)
    assert points_by_document(factory)[target] >= 1


def test_tenant_delete_leaves_other_tenants_alone(two_tenants: tuple[Factory, list[Source]]) -> None:
    factory, _ = two_tenants
    before = points_by_document(factory)

    report = delete(factory, DeleteRequest("helio-us", all_documents=True))

    assert sorted(report.documents) == sorted(f"helio-us:{f}" for f in US_FILES)
    assert points_by_document(factory) == Counter({d: n for d, n in before.items() if d.startswith("helio-eu:")})
    with pytest.raises(DeleteRequestError, match="no live document"):
        delete(factory, DeleteRequest("helio-us", document="helio-us:hr/parental-leave.md"))
    with pytest.raises(DeleteRequestError, match="not one identifier"):
        delete(factory, DeleteRequest("helio-eu", subject="Miriam Vogt"))
