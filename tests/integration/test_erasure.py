"""Erasure reaches everything: after `erase`, no file of the data directory (Parquet
read through DuckDB, the index scrolled and its files read, the audit log, the
ledger, caches, receipts) holds the subject's marker or identifier, other data is
untouched, and the next scan of the unchanged sources does not bring it back."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from aifactory.cli import main
from ingest.sources import Source
from pipeline import runner
from pipeline.erasure import erase
from pipeline.factory import Factory
from tests.conftest import MakeFactory
from tests.integration.conftest import indexed, us_office

pytestmark = pytest.mark.integration

MARKER = "ZQX-ERASE-MARKER-7731"
SUBJECT = "ada.lindqvist@nordwind-logistik.eu"
KEPT = "KEEP-THIS-FACT-4410"


def points_by_document(factory: Factory) -> Counter[str]:
    index = factory.index
    return Counter(h.payload["document_id"] for r in index.regions() for h in index.points(r))


def occurrences(home: Path, *needles: str) -> list[str]:
    """Every file under `home` holding a needle (case-insensitive): Parquet through
    DuckDB (its pages are compressed), everything else as bytes."""
    wanted = [n.lower() for n in needles]
    found = []
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            rows = duckdb.sql(f"SELECT * FROM read_parquet('{path}')").fetchall()
            text = json.dumps(rows, default=str).lower()
        else:
            text = path.read_bytes().decode("utf-8", "replace").lower()
        found += [f"{path.relative_to(home)}: {n}" for n in wanted if n in text]
    return found


def index_texts(factory: Factory) -> str:
    index = factory.index
    return json.dumps([h.payload for r in index.regions() for h in index.points(r)]).lower()


@pytest.fixture
def world(tmp_path: Path, make_factory: MakeFactory) -> tuple[Factory, list[Source]]:
    eu = tmp_path / "eu"
    (eu / "crm").mkdir(parents=True)
    (eu / "crm" / "ada-onboarding.txt").write_text(
        f"Customer onboarding for Ada Lindqvist. Reference {MARKER}.\n\n"
        f"Contact: {SUBJECT}. Preferred delivery window is mornings; the account manager is Jonas.\n")
    (eu / "crm" / "ticket-118.md").write_text(
        f"# Ticket 118\n\nComplaint about a late pallet, raised by {SUBJECT}. Tracking code {MARKER}.\n")
    (eu / "crm" / "fleet-policy.md").write_text(
        f"# Fleet policy\n\nTrucks are serviced every 40,000 km. Fact {KEPT}.\n")
    # A file that fails to parse, so its bytes are kept as a dead letter; it names the subject.
    (eu / "crm" / "scan.pdf").write_bytes(b"%PDF-1.7\n" + f"broken {SUBJECT} {MARKER}".encode() + b"\x00" * 64)
    return indexed(make_factory, tmp_path / "home", [Source(eu, "helio-eu", "EU"), us_office(tmp_path, KEPT)])


def test_erasure_leaves_no_trace_of_the_subject(world: tuple[Factory, list[Source]]) -> None:
    factory, sources = world
    home = factory.settings.home
    before = points_by_document(factory)
    ada = {"helio-eu:crm/ada-onboarding.txt", "helio-eu:crm/ticket-118.md"}
    assert ada <= set(before)
    # The search can fail: before erasure it finds the marker in the lakes, the index and the kept bytes.
    hits = occurrences(home, MARKER, SUBJECT)
    assert any(h.startswith("lake/raw") for h in hits) and any(h.startswith("lake/chunks") for h in hits)
    assert any("dead_letter_blobs" in h and SUBJECT in h for h in hits)
    assert MARKER.lower() in index_texts(factory)

    receipt = erase(factory, "helio-eu", subject=SUBJECT.upper())

    assert set(receipt.documents) == ada
    assert sum(receipt.removed["raw lake rows"].values()) == 2
    assert sum(receipt.removed["chunk lake rows"].values()) >= 2
    assert len(receipt.removed["dead-letter bytes"]) == 1
    assert receipt.removed["index points deleted by the pipeline"] == sum(before[d] for d in ada)
    assert points_by_document(factory) == Counter({d: n for d, n in before.items() if d not in ada})
    factory.close()
    assert occurrences(home, MARKER, SUBJECT) == [], "erased data is still in the data directory"
    assert MARKER.lower() not in index_texts(factory)
    # Everything else is still there.
    assert sum(KEPT.lower() in h for h in [index_texts(factory)]) == 1
    assert len(occurrences(home, KEPT)) >= 4  # raw and chunk lake of both tenants, at least

    # The audit log names the subject by keyed hash, and the receipt's digest is in it.
    entries = [e for e in factory.audit.entries() if e["action"].startswith("erase.")]
    assert [e["action"] for e in entries] == ["erase.request", "erase.done"]
    assert entries[1]["details"]["subject"] == receipt.subject and len(receipt.subject) == 32
    assert factory.audit.verify().ok
    assert Path(receipt.path).is_file()

    # The sources still hold the files: a run keeps them out (the two documents, the
    # unparsable file, whose bytes are not kept again), and a new file naming the subject too.
    (sources[0].root / "crm" / "follow-up.txt").write_text(f"Follow-up call with {SUBJECT} about {MARKER}.\n")
    again = runner.run(factory, sources)
    assert sum(r.held for r in again.ingest) == 4 and again.published == 0
    factory.close()
    assert occurrences(home, MARKER, SUBJECT) == []


def test_document_erasure_from_the_command_line(world: tuple[Factory, list[Source]],
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    factory, sources = world
    home = factory.settings.home
    target = "helio-eu:crm/fleet-policy.md"
    factory.close()
    monkeypatch.setenv("AIFACTORY_HOME", str(home))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", factory.settings.kafka.bootstrap_servers)
    monkeypatch.setenv("AIFACTORY_TOPIC_PREFIX", factory.settings.kafka.topic_prefix)

    assert main(["erase", "--tenant", "helio-eu", "--document", target, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["documents"] == [target] and Path(out["receipt"]).is_file()
    assert target not in points_by_document(factory)
    # Only the US note still holds the fact: the EU document is gone from every file.
    left = occurrences(home, KEPT)
    assert left and all("us-east" in h for h in left), left
    assert main(["erase", "--tenant", "helio-eu", "--document", "helio-eu:crm/nope.md"]) == 2
    assert "no document" in capsys.readouterr().err
    # The unchanged source stays erased.
    assert sum(r.held for r in runner.run(factory, sources).ingest) == 1
    assert target not in points_by_document(factory)
