"""A data subject is found wherever they are written, whatever the spelling: text hiding
an address behind a zero-width space or a full-width @, a card number split by
zero-width spaces, an address as a file name, a record id or a metadata column. None
of it reaches a sink in clear, and `erase --subject` removes every document naming the
subject, proven by a byte scan of the whole data directory."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path
from urllib.parse import quote, unquote

import pyarrow.parquet as pq
import pytest

from aifactory.cli import main
from ingest.sources import Source
from ingest.tables import RAW
from pipeline import runner
from pipeline.erasure import erase
from pipeline.factory import Factory
from tests.conftest import MakeFactory
from tests.integration.conftest import indexed, us_office
from transforms.tables import CHUNKS

pytestmark = pytest.mark.integration

ZW = "\u200b"
EMAIL = "jane.doe@example.com"
SSN = "536-22-8741"
CARD = "4111111111111111"
KEPT = "KEEP-THIS-FACT-4410"
# Documents that do not name the subject: their ids hold no personal data, so they are known.
UNNAMED = {"helio-eu:crm/fleet.md", "helio-eu:crm/payment.txt", "helio-eu:crm/contacts.jsonl#c-3"}
_FORMAT = re.compile(r"[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")


def spellings(value: str) -> list[str]:
    """The value as written, case-folded, percent-encoded, and with an invisible character inside."""
    return [value.lower(), quote(value).lower(), quote(value, safe="").lower(),
            value[:4] + ZW + value[4:], value.replace("@", "\uff20")]


def traces(home: Path, *values: str) -> list[str]:
    """Every file under `home` holding a value in any spelling: its bytes, and for Parquet
    the decompressed values of every column; each also after dropping invisible characters
    and NFKC (which undoes the obfuscations) and after percent-decoding."""
    found = []
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        texts = [re.sub(rb"\x00{16,}", b"\n", path.read_bytes()).decode("utf-8", "replace")]  # (sparse files)
        if path.suffix == ".parquet":
            texts.append(json.dumps(pq.read_table(path).to_pylist(), default=str, ensure_ascii=False))
        for text in texts:
            variants = [text.lower(), unquote(text).lower()]
            variants += [unicodedata.normalize("NFKC", _FORMAT.sub("", v)).lower() for v in variants]
            hits = {v for v in values for s in spellings(v) if any(s in t for t in variants)}
            found += [f"{path.relative_to(home)}: {v}" for v in sorted(hits)]
    return sorted(set(found))


def points_by_document(factory: Factory) -> Counter[str]:
    index = factory.index
    return Counter(h.payload["document_id"] for r in index.regions() for h in index.points(r))


def payloads(factory: Factory) -> str:
    index = factory.index
    return json.dumps([h.payload for r in index.regions() for h in index.points(r)], ensure_ascii=False)


def raw_rows(factory: Factory) -> list[dict[str, object]]:
    con = factory.lake.connect(RAW)
    try:
        cur = con.execute("SELECT document_id, op, source_uri, title, text, metadata FROM raw WHERE tenant = ? "
                          "ORDER BY document_id, version", ["helio-eu"])
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def hidden(text: str, *values: str) -> list[str]:
    """The values `text` holds in any spelling (after undoing the obfuscations)."""
    flat = unicodedata.normalize("NFKC", _FORMAT.sub("", unquote(text))).lower()
    return [v for v in values if v.lower() in flat or quote(v).lower() in text.lower()]


@pytest.fixture
def world(tmp_path: Path, make_factory: MakeFactory) -> tuple[Factory, list[Source]]:
    eu = tmp_path / "eu"
    (eu / "crm").mkdir(parents=True)
    (eu / "crm" / f"{EMAIL}.md").write_text("# Call notes\n\nDiscussed the delivery schedule for the Q3 pallets.\n")
    (eu / "crm" / "ticket-7.txt").write_text(f"Ticket 7: late pallet, raised by jane{ZW}.doe@example.com.\n")
    (eu / "crm" / "fullwidth.txt").write_text("Reply to jane.doe\uff20example.com about the invoice.\n")
    (eu / "crm" / "payment.txt").write_text(f"Payment card 4111{ZW}1111{ZW}1111{ZW}1111 was charged. {KEPT}\n")
    (eu / "crm" / "fleet.md").write_text(f"# Fleet policy\n\nTrucks are serviced every 40,000 km. Fact {KEPT}.\n")
    (eu / "crm" / "contacts.jsonl").write_text("\n".join(json.dumps(r) for r in (
        {"id": EMAIL, "text": "Prefers morning deliveries to the Leipzig depot."},
        {"id": "c-2", "text": "Ships to the Hamburg depot on Tuesdays.", "contact": EMAIL, "ssn": SSN},
        {"id": "c-3", "text": "No personal data in this record at all."})) + "\n")
    # Fails to parse, so its bytes are kept as a dead letter; it hides the address.
    (eu / "crm" / "scan.pdf").write_bytes(b"%PDF-1.7\nbroken " + f"jane{ZW}.doe@example.com".encode() + b"\x00" * 64)
    return indexed(make_factory, tmp_path / "home", [Source(eu, "helio-eu", "EU"), us_office(tmp_path, KEPT)])


def test_personal_data_in_any_field_or_spelling_reaches_no_sink(world: tuple[Factory, list[Source]]) -> None:
    factory, sources = world
    rows = raw_rows(factory)
    for row in rows:
        assert hidden(json.dumps(row, ensure_ascii=False), EMAIL, SSN, CARD) == [], row
    con = factory.lake.connect(CHUNKS)
    chunks = json.dumps(con.execute("SELECT document_id, source_uri, title, text FROM chunks").fetchall(),
                        ensure_ascii=False)
    con.close()
    assert hidden(chunks, EMAIL, SSN, CARD) == []
    assert hidden(payloads(factory), EMAIL, SSN, CARD) == []
    assert len(points_by_document(factory)) == 9  # every document is searchable, under its redacted id

    # A rerun publishes nothing: every comparison with the lake uses the same redacted ids.
    again = runner.run(factory, sources)
    assert again.published == 0

    # Deleting the file named by an address deletes its document.
    named = {r["document_id"] for r in rows} - UNNAMED - {f"helio-eu:crm/{n}" for n in ("ticket-7.txt",
                                                                                          "fullwidth.txt")}
    md = next(str(d) for d in named if str(d).endswith(".md"))
    (sources[0].root / "crm" / f"{EMAIL}.md").unlink()
    runner.run(factory, sources)
    assert md not in points_by_document(factory)
    assert [r["op"] for r in raw_rows(factory) if r["document_id"] == md] == ["upsert", "delete"]


def test_erasure_finds_the_subject_everywhere_and_proves_it(world: tuple[Factory, list[Source]],
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    factory, sources = world
    home = factory.settings.home
    documents = {str(r["document_id"]) for r in raw_rows(factory)}
    named = documents - UNNAMED
    assert len(named) == 5
    before = points_by_document(factory)
    # The search can fail: before erasure it finds the subject (the kept bytes of the broken PDF).
    assert any("dead_letter_blobs" in t for t in traces(home, EMAIL))

    receipt = erase(factory, "helio-eu", subject=EMAIL.upper())

    assert set(receipt.documents) == named
    assert len(receipt.removed["dead-letter bytes"]) == 1
    assert receipt.proof["found"] == [] and receipt.proof["files"] > 10
    assert "retention" in receipt.proof["broker"]  # the session broker is not this factory's own
    assert points_by_document(factory) == Counter({d: n for d, n in before.items() if d not in named})
    factory.close()
    assert traces(home, EMAIL) == [], "the subject is still written in the data directory"
    assert any(KEPT.lower() in t for t in [payloads(factory).lower()])
    assert Path(receipt.path).is_file() and EMAIL not in Path(receipt.path).read_text()

    # The sources still hold everything: a run keeps it out, the broken PDF included.
    again = runner.run(factory, sources)
    assert sum(r.held for r in again.ingest) == 6 and again.published == 0
    factory.close()
    assert traces(home, EMAIL) == []

    # What erasure cannot remove, the proof names, and the command fails with one line.
    (home / "logs").mkdir(exist_ok=True)
    (home / "logs" / "notes.log").write_text("operator note: called jane.doe\uff20example.com back\n")
    monkeypatch.setenv("AIFACTORY_HOME", str(home))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", factory.settings.kafka.bootstrap_servers)
    monkeypatch.setenv("AIFACTORY_TOPIC_PREFIX", factory.settings.kafka.topic_prefix)
    assert main(["erase", "--tenant", "helio-eu", "--subject", EMAIL]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "logs/notes.log" in err[0] and EMAIL not in err[0], err
