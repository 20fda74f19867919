"""Per-tenant envelope keys and sealed values: the key manager's contract (any adapter,
a KMS or Vault one included, must pass `check_contract`), rotation without a pause,
rewrap, shredding, and ciphertext that hides the text and refuses tampering."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from governance.contracts import DocumentEvent
from governance.keyring import KeyError_, KeyManager, LocalKms, ShreddedError
from governance.sealing import PREFIX, Sealer, UnreadableError

SECRET = "The vault code is 4417-ALPHA-KESTREL"


def check_contract(kms: KeyManager) -> None:
    """What the product needs of a key manager."""
    key = b"k" * 32
    wrapped = kms.wrap("acme", key)
    assert key not in wrapped.encode() and kms.unwrap("acme", wrapped) == key
    kms.wrap("globex", key)  # globex has a master key of its own...
    with pytest.raises(KeyError_, match="does not open"):  # ...which does not open acme's data keys
        kms.unwrap("globex", wrapped)
    version = kms.rotate("acme")
    newer = kms.wrap("acme", key)
    assert newer.startswith(f"v{version}:") and kms.unwrap("acme", wrapped) == key  # the old one still opens
    assert kms.retire("acme", version) == 1
    with pytest.raises(KeyError_, match="rewrap"):
        kms.unwrap("acme", wrapped)
    assert kms.unwrap("acme", newer) == key
    assert not kms.shredded("acme")
    assert kms.destroy("acme") == 1 and kms.shredded("acme")
    with pytest.raises(ShreddedError, match="acme"):
        kms.unwrap("acme", newer)
    with pytest.raises(ShreddedError):
        kms.wrap("acme", key)
    assert kms.unwrap("globex", kms.wrap("globex", key)) == key  # other tenants untouched


def test_the_local_key_manager_keeps_the_contract(tmp_path: Path) -> None:
    kms = LocalKms(tmp_path / "kms")
    check_contract(kms)
    kept = tmp_path / "kms" / "globex.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert not (tmp_path / "kms" / "acme.json").exists()  # destroyed, not only forgotten


def sealer(tmp_path: Path) -> Sealer:
    return Sealer.at(tmp_path / "home" / "keys" / "data-keys", tmp_path / "kms")


def test_sealed_text_hides_the_words_and_opens_only_for_its_tenant(tmp_path: Path) -> None:
    s = sealer(tmp_path)
    one, two = s.seal("acme", SECRET), s.seal("acme", SECRET)
    assert one.startswith(PREFIX) and one != two and "KESTREL" not in one.upper()
    assert s.open("acme", one) == s.open("acme", two) == SECRET
    with pytest.raises(KeyError_):  # another tenant's keys do not open it
        s.open("globex", one)
    flipped = one[:-6] + ("A" if one[-6] != "A" else "B") + one[-5:]
    with pytest.raises(UnreadableError):
        s.open("acme", flipped)
    assert s.open("acme", "written before encryption was on") == "written before encryption was on"
    with pytest.raises(KeyError_, match="AIFACTORY_ENCRYPTION=on"):
        Sealer(None).open("acme", one)
    blob = s.seal_bytes("acme", SECRET.encode())
    assert b"KESTREL" not in blob and s.open_bytes("acme", blob) == SECRET.encode()


def test_records_and_rows_are_sealed_field_by_field(tmp_path: Path) -> None:
    s = sealer(tmp_path)
    event = DocumentEvent.new(op="upsert", tenant="acme", document_id="acme:a.md", version=1, text=SECRET,
                              title="Vault", jurisdiction="EU", region="eu-central", source_uri="file:///a.md",
                              source_root="file:///", metadata={"owner": "KESTREL team"})
    sealed = s.seal_record(event)
    assert Sealer.sealed(sealed) and "KESTREL" not in sealed.to_json().decode()
    assert set(sealed.metadata) == {"owner"}  # names stay, values are sealed
    raw = {"tenant": "acme", "text": sealed.text, "metadata": json.dumps(sealed.metadata)}
    assert s.open_fields(raw) == {"tenant": "acme", "text": SECRET, "metadata": '{"owner": "KESTREL team"}'}
    assert sealed.content_hash == event.content_hash  # hashed before sealing: a rerun finds it unchanged
    assert s.open_record(sealed) == event
    row = s.seal_fields({"tenant": "acme", "text": SECRET, "title": "Vault", "section": "", "page": 3})
    assert row["section"] == "" and row["page"] == 3 and s.open_fields(row) == {
        "tenant": "acme", "text": SECRET, "title": "Vault", "section": "", "page": 3}


def test_rotation_seals_new_values_with_a_new_key_and_old_ones_still_open(tmp_path: Path) -> None:
    s = sealer(tmp_path)
    assert s.keys is not None
    old = s.seal("acme", SECRET)
    kid = s.keys.rotate("acme")
    new = s.seal("acme", SECRET)
    assert new.split(":")[1] == kid != old.split(":")[1]
    assert s.open("acme", old) == s.open("acme", new) == SECRET
    assert s.keys.rewrap("acme") == 2
    versions = (tmp_path / "kms" / "acme.json").read_text()
    assert '"1"' not in versions and '"2"' in versions  # the old master key is destroyed
    fresh = sealer(tmp_path)  # another process, nothing cached
    assert fresh.open("acme", old) == fresh.open("acme", new) == SECRET
    meta = json.dumps({"owner": old, "team": new})
    assert s.stale("acme", old) and s.stale("acme", meta) and not s.stale("acme", new)
    again = s.reseal("acme", meta)
    assert not s.stale("acme", again) and {k: s.open("acme", v) for k, v in json.loads(again).items()} == {
        "owner": SECRET, "team": SECRET}
    blob = s.seal_bytes("acme", b"kept bytes")
    assert s.reseal_bytes("acme", blob) == blob  # already under the current key
    assert s.keys.drop_others("acme") == sorted({old.split(":")[1]})
    with pytest.raises(KeyError_):  # what the dropped key sealed, and was not resealed, is gone
        sealer(tmp_path).open("acme", old)


def test_shredding_makes_every_sealed_copy_unreadable_in_every_process(tmp_path: Path) -> None:
    writer, reader = sealer(tmp_path), sealer(tmp_path)
    value = writer.seal("acme", SECRET)
    other = writer.seal("globex", "globex text")
    assert reader.open("acme", value) == SECRET  # the reader holds the unwrapped key now
    assert writer.keys is not None
    writer.keys.kms.destroy("acme")
    writer.keys.forget("acme")
    with pytest.raises(ShreddedError):
        reader.open("acme", value)
    assert reader.open_rows([{"tenant": "acme", "text": value}, {"tenant": "globex", "text": other}]) == \
        [{"tenant": "globex", "text": "globex text"}]
    with pytest.raises(ShreddedError, match="nothing more is stored"):
        writer.seal("acme", "a new document")
    assert not (tmp_path / "home" / "keys" / "data-keys" / "acme.json").exists()
    elsewhere = Sealer.at(tmp_path / "home" / "keys" / "data-keys", tmp_path / "another-kms")
    with pytest.raises(ShreddedError):  # known shredded even by a process given another key store
        elsewhere.open("acme", value)
