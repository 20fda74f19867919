"""Encryption at rest (AIFACTORY_ENCRYPTION=on): a planted secret phrase is in no file under
the data directory and in no message the broker holds, yet search answers with it;
keys rotate, rewrap and reseal with the pipeline running as usual; shredding a tenant leaves
every copy of its text unreadable and its searches empty, with a receipt in the audit."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from governance.keyring import ShreddedError
from governance.sealing import PREFIX, TOKEN
from ingest.broker import EmbeddedBroker
from ingest.sources import Source
from ingest.tables import RAW
from pipeline import runner, tenant_keys
from pipeline.erasure import erase
from pipeline.erasure_proof import Spellings, parquet_texts, prove
from pipeline.factory import Factory
from tests.conftest import MakeFactory
from transforms import chunk_table
from vectorstore.sealed import bare
from vectorstore.search import search

pytestmark = pytest.mark.integration

PHRASE = "Marmalade Otter Protocol"  # planted in a body, a metadata value and a broken file
HEADING_ONLY = "Kestrel Lantern"


def scan(home: Path) -> list[str]:
    """Files under `home` holding a planted phrase, as bytes or in a Parquet file's values."""
    words = [w.lower().encode() for w in (PHRASE, HEADING_ONLY)]
    found = []
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        data = path.read_bytes().lower()
        texts = "\n".join(parquet_texts(path)).lower().encode() if path.suffix == ".parquet" else b""
        if any(w in data or w in texts for w in words):
            found.append(str(path.relative_to(home)))
    return found


def broker_values(broker: EmbeddedBroker, factory: Factory) -> list[bytes]:
    """Every message value on the run's topics, as the broker stores it."""
    s = factory.settings.kafka
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap_servers, auto_offset_reset="earliest",
                             consumer_timeout_ms=3000)
    try:
        parts = [TopicPartition(t, p) for t in (s.raw_topic, s.chunks_topic, s.dead_letter_topic)
                 for p in consumer.partitions_for_topic(t) or ()]
        consumer.assign(parts)
        return [m.value for m in consumer]
    finally:
        consumer.close()


def corpus(folder: Path) -> Source:
    folder.mkdir()
    (folder / "vault.md").write_text(f"# {HEADING_ONLY}\n\nThe launch procedure is the {PHRASE}; staff keep it "
                                     "on paper in the safe on floor three.\n")
    (folder / "canteen.md").write_text("# Canteen\n\nSoup is served on Fridays from noon.\n")
    (folder / "items.jsonl").write_text(json.dumps({"id": "i-1", "title": "Item", "text": "A plain catalogue item.",
                                                    "codename": PHRASE}) + "\n")  # metadata
    (folder / "broken.json").write_text('{"id": 1, "text": "' + PHRASE + '" ')  # a dead letter, its bytes kept
    return Source(folder, "acme", "EU")


def test_encrypted_home_holds_no_plaintext_and_shredding_leaves_nothing_readable(
        tmp_path: Path, make_factory: MakeFactory, broker: EmbeddedBroker) -> None:
    home = tmp_path / "home"
    factory = make_factory(home, encryption=True, kms_dir=tmp_path / "kms")
    source = corpus(tmp_path / "docs")
    report = runner.run(factory, [source])
    assert report.summary()["published"] == 3 and factory.index.count("eu-central", tenant="acme") == 3
    [hit] = search(factory.index, factory.embedder, "launch procedure", tenant="acme", top_k=1)
    assert PHRASE in hit.text and hit.title == HEADING_ONLY and hit.section == HEADING_ONLY
    [traced] = chunk_table.document_chunks(factory.lake, "acme:vault.md")  # what a lineage trace shows
    assert traced.values["section"] == HEADING_ONLY and "tenant" not in traced.values

    assert scan(home) == []
    assert [p for p in (home / "lake" / "dead_letter_blobs").rglob("*") if p.is_file()]  # a sealed copy
    with factory.lake.connect(RAW) as con:  # a metadata value, opened
        [item] = chunk_table._rows(con, "SELECT tenant, metadata FROM raw WHERE document_id LIKE '%items.jsonl%'")
    assert PHRASE in (factory.sealer.open_fields(item) or {})["metadata"]
    values = broker_values(broker, factory)
    assert values and not [v for v in values if PHRASE.lower().encode() in v.lower()]
    assert any(PREFIX.encode() in v for v in values)

    # An edit re-embeds only the changed document; sealing is no change to the others.
    (tmp_path / "docs" / "canteen.md").write_text("# Canteen\n\nSoup is served on Fridays from one o'clock.\n")
    edited = runner.run(factory, [source]).index
    assert edited is not None and (edited.upserted, edited.deleted) == (1, 1)

    # Rotation: new writes under a new data key, with no pause; rewrap moves the old ones.
    kid = tenant_keys.rotate(factory, "acme")["data_key"]
    (tmp_path / "docs" / "parking.md").write_text("# Parking\n\nThe north garage closes at ten.\n")
    runner.run(factory, [source])
    with factory.lake.connect(chunk_table.CHUNKS) as con:
        stored = {r["document_id"]: r for r in chunk_table._rows(con, "SELECT tenant, document_id, text FROM chunks")}
    assert stored["acme:parking.md"]["text"].startswith(f"{PREFIX}{kid}:")  # sealed with the new data key
    assert factory.sealer.open("acme", stored["acme:parking.md"]["text"]).startswith("# Parking")
    assert tenant_keys.rewrap(factory, "acme")["data_keys"] == 2
    assert len(search(factory.index, factory.embedder, "garage", tenant="acme", top_k=5)) == 4

    # Reseal: everything under the new data key, then the old one destroyed.
    resealed = tenant_keys.reseal(factory, "acme")
    assert (resealed["data_keys_destroyed"], resealed["dead_letter_copies"], resealed["points"]) == (1, 1, 3)
    with factory.lake.connect(RAW, chunk_table.CHUNKS) as con:
        values = [v for (v,) in con.execute("SELECT text FROM raw WHERE op = 'upsert' UNION ALL "
                                            "SELECT title FROM raw UNION ALL SELECT metadata FROM raw UNION ALL "
                                            "SELECT text FROM chunks WHERE op = 'upsert' UNION ALL "
                                            "SELECT section FROM chunks").fetchall() if v and v != "{}"]
    assert values and all(TOKEN.search(v) and {m.group(1) for m in TOKEN.finditer(v)} == {kid} for v in values)
    payloads = [h.payload for h in bare(factory.index).points("eu-central")]
    assert all(p["text"].startswith(f"{PREFIX}{kid}:") for p in payloads)
    [hit] = search(factory.index, factory.embedder, "launch procedure", tenant="acme", top_k=1)
    assert PHRASE in hit.text
    factory.close()

    # Shredding, from a fresh process: nothing of the tenant opens, anywhere.
    again = make_factory(home, encryption=True, kms_dir=tmp_path / "kms")
    receipt = tenant_keys.shred(again, "acme")
    assert receipt["points_removed"] == 4 and receipt["readable_left"] == {"lake_rows": 0, "index_points": 0}
    assert search(again.index, again.embedder, "launch procedure", tenant="acme", top_k=5) == []
    assert chunk_table.current_rows(again.lake) == []
    sealed = next(r for r in chunk_table._rows(again.lake.connect(chunk_table.CHUNKS),
                                                "SELECT tenant, text FROM chunks WHERE op = 'upsert'"))
    with pytest.raises(ShreddedError):
        again.sealer.open("acme", sealed["text"])
    [entry] = [e for e in again.audit.entries() if e["action"] == "tenant.shredded"]
    assert entry["target"] == "acme" and entry["details"]["data_keys_destroyed"] == 1
    assert {e["action"] for e in again.audit.entries()} >= {"tenant.key_rotated", "tenant.rewrapped",
                                                            "tenant.resealed"}
    assert again.audit.verify().ok
    (tmp_path / "docs" / "late.md").write_text("# Late\n\nA document sent after offboarding.\n")
    with pytest.raises(ShreddedError, match="acme"):  # an offboarded tenant takes no new data
        runner.run(again, [source])
    again.close()


def test_the_erasure_proof_opens_sealed_values(tmp_path: Path, make_factory: MakeFactory) -> None:
    """With encryption on, a byte scan alone would prove nothing: the proof opens the
    tenant's sealed values (in any file, in Parquet values, sealed dead-letter copies)."""
    factory = make_factory(tmp_path / "home", encryption=True, kms_dir=tmp_path / "kms")
    email = f"jane.{uuid.uuid4().hex[:6]}@example.com"
    sealer, home = factory.sealer, factory.settings.home
    (home / "index").mkdir(parents=True)
    (home / "index" / "wal").write_bytes(b"\x00payload text " + sealer.seal("acme", f"mail {email}").encode())
    spellings = Spellings(email)
    assert prove(home, "acme", spellings, broker="", lake=factory.lake).found == ["index/wal"]
    (home / "index" / "wal").unlink()
    factory.lake.store_blob("eu-central", "acme", f"to: {email}".encode())
    [blob] = [p for p in (home / "lake").rglob("*") if p.is_file()]
    assert email.encode() not in blob.read_bytes()
    assert prove(home, "acme", spellings, broker="", lake=factory.lake).found == [str(blob.relative_to(home))]
    assert prove(home, "acme", spellings, broker="", lake=None).found == []  # what a byte scan alone says


def test_erasing_a_subject_reaches_the_sealed_copy_of_a_failed_file(tmp_path: Path, make_factory: MakeFactory) -> None:
    """A failed file is kept whole (sealed) for a replay: an erasure must open it to see
    that it names the subject, and remove it; the proof, which opens it too, then agrees."""
    factory = make_factory(tmp_path / "home", encryption=True, kms_dir=tmp_path / "kms")
    folder, email = tmp_path / "docs", "jane.roe@example.com"
    folder.mkdir()
    (folder / "note.md").write_text(f"# Note\n\nWrite to {email} about the depot keys.\n")
    (folder / "broken.json").write_text('{"id": 1, "owner": "' + email + '" ')
    runner.run(factory, [Source(folder, "acme", "EU")])
    kept = [p for p in (factory.settings.home / "lake" / "dead_letter_blobs").rglob("*") if p.is_file()]
    assert kept and email.encode() not in kept[0].read_bytes()
    receipt = erase(factory, "acme", subject=email)  # raises ErasureIncompleteError if the proof finds it
    assert receipt.proof["found"] == [] and not [p for p in kept if p.exists()]
    factory.close()
