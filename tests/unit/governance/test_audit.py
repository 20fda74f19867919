"""The audit log's chain catches an altered byte, a removed entry, a swapped pair
and a cut-off end, and names the first entry that does not fit."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import pytest

from governance.audit import AuditLog, Verification, entry_hash, legacy_hash


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    audit = AuditLog(tmp_path / "audit.jsonl", anchor=tmp_path / "outside" / "anchor.json")
    for n in range(6):
        audit.append("delete.request", f"helio-eu:doc-{n}", who="user:test", documents=n)
    return audit


def lines(log: AuditLog) -> list[str]:
    return log.path.read_text().splitlines()


def rewrite(log: AuditLog, new: list[str]) -> None:
    log.path.write_text("\n".join(new) + "\n")


def test_an_untouched_log_verifies(log: AuditLog) -> None:
    result = log.verify()
    assert result.ok and result.entries == 6
    assert [e["seq"] for e in log.entries()] == [1, 2, 3, 4, 5, 6]


def test_one_altered_byte_is_caught_at_its_entry(log: AuditLog) -> None:
    content = log.path.read_bytes()
    at = content.index(b"doc-3")
    log.path.write_bytes(content[:at] + b"dog-3" + content[at + 5:])
    result = log.verify()
    assert not result.ok and result.line == 4 and "entry 4 (line 4) was altered" in result.problem


def test_a_deleted_entry_is_caught(log: AuditLog) -> None:
    rewrite(log, [line for n, line in enumerate(lines(log)) if n != 2])
    result = log.verify()
    assert not result.ok and result.line == 3 and "entry 3 is missing" in result.problem
    assert "removed" in result.problem


def test_a_swapped_pair_is_caught(log: AuditLog) -> None:
    ls = lines(log)
    ls[1], ls[2] = ls[2], ls[1]
    rewrite(log, ls)
    result = log.verify()
    assert not result.ok and result.line == 2 and "found entry 3" in result.problem


def test_a_cut_off_end_is_caught(log: AuditLog) -> None:
    rewrite(log, lines(log)[:-2])
    result = log.verify()
    assert not result.ok and "head says 6" in result.problem


def test_appends_continue_the_chain(log: AuditLog) -> None:
    entry = log.append("keys.create", "acme", who="user:test", key_id="k1")
    assert entry["seq"] == 7 and entry["prev"] == list(log.entries())[5]["hash"]
    assert log.verify().ok


# --- the keyed chain, the head and the anchor (issue 25's tampers) ---------------------------

def recompute(log: AuditLog, entries: list[dict[str, Any]], key: bytes) -> None:
    """Rewrite the log as an attacker without the audit key would: a consistent chain, under
    another key, and a head to match."""
    prev = "0" * 64
    for n, entry in enumerate(entries, start=1):
        entry.update(seq=n, prev=prev)
        entry["hash"] = prev = entry_hash(entry, key)
    rewrite(log, [json.dumps(e, sort_keys=True) for e in entries])
    log.head_path.write_text(json.dumps({"seq": len(entries), "hash": prev}))


def test_a_chain_recomputed_without_the_key_is_caught(log: AuditLog) -> None:
    entries = list(log.entries())
    entries[2]["target"] = "helio-eu:someone-else"
    recompute(log, entries, b"not the audit key")
    result = log.verify()
    assert not result.ok and result.line == 1 and "altered or forged" in result.problem


def test_deleting_and_renumbering_is_caught(log: AuditLog) -> None:
    entries = [e for n, e in enumerate(log.entries()) if n != 3]
    recompute(log, entries, b"guess")
    assert not log.verify().ok


def test_a_truncated_tail_with_a_rewritten_head_is_caught(log: AuditLog) -> None:
    kept = lines(log)[:4]
    rewrite(log, kept)
    last = json.loads(kept[-1])
    log.head_path.write_text(json.dumps({"seq": 4, "hash": last["hash"], "mac": "0" * 64}))
    result = log.verify()
    assert not result.ok and "head" in result.problem and "forged" in result.problem


def test_a_truncated_tail_and_head_copied_from_an_older_state_is_caught_by_the_anchor(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl", anchor=tmp_path / "outside" / "anchor.json")
    for n in range(4):
        audit.append("erase", f"acme:subject-{n}", who="user:test")
        if n == 1:
            old_log, old_head = audit.path.read_bytes(), audit.head_path.read_bytes()
    audit.path.write_bytes(old_log)  # a backup of the data directory restored over the log
    audit.head_path.write_bytes(old_head)
    result = audit.verify()
    assert not result.ok and "anchor" in result.problem and "says 4" in result.problem


def test_an_emptied_log_without_its_head_is_caught(log: AuditLog) -> None:
    log.path.write_text("")
    log.head_path.unlink()
    result = log.verify()
    assert not result.ok and result.entries == 0 and "says 6" in result.problem


def test_a_forged_append_that_updates_the_head_is_caught(log: AuditLog) -> None:
    last = list(log.entries())[-1]
    forged = {"seq": 7, "at": last["at"], "actor": "user:admin", "action": "keys.revoke", "target": "acme",
              "details": {}, "prev": last["hash"]}
    forged["hash"] = entry_hash(forged, b"a guessed key")
    rewrite(log, [*lines(log), json.dumps(forged, sort_keys=True)])
    log.head_path.write_text(json.dumps({"seq": 7, "hash": forged["hash"], "mac": "1" * 64}))
    result = log.verify()
    assert not result.ok and result.line == 7 and "forged" in result.problem


def test_a_crash_between_the_entry_and_the_head_is_not_tampering_and_heals(log: AuditLog) -> None:
    before_head, before_anchor = log.head_path.read_bytes(), log.anchor_path.read_bytes()
    log.append("keys.create", "acme", who="user:test")
    log.head_path.write_bytes(before_head)  # the entry was durable, the head was not
    log.anchor_path.write_bytes(before_anchor)
    result = log.verify()
    assert result.ok and result.entries == 7 and "one entry behind" in result.note
    entry = log.append("keys.revoke", "acme", who="user:test")
    assert entry["seq"] == 8  # not 7 again
    assert log.verify() == Verification(True, 8)


@pytest.mark.parametrize("damage", [b"\xff\xfe not utf-8\n", b"[1, 2, 3]\n", b'"just a string"\n'])
def test_damaged_lines_are_findings_not_crashes(log: AuditLog, damage: bytes) -> None:
    content = log.path.read_bytes().splitlines(keepends=True)
    log.path.write_bytes(b"".join(content[:2]) + damage + b"".join(content[3:]))
    result = log.verify()
    assert not result.ok and result.line == 3 and "not a JSON entry" in result.problem


@pytest.mark.parametrize("head", [b"", b"[]", b"\xff", b'{"seq": "x"}'])
def test_a_damaged_head_is_a_finding_not_a_crash(log: AuditLog, head: bytes) -> None:
    log.head_path.write_bytes(head)
    result = log.verify()
    assert not result.ok and "damaged" in result.problem


def test_the_actor_is_the_os_user_and_aifactory_actor_only_a_claim(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIFACTORY_ACTOR", "svc:billing")
    entry = AuditLog(tmp_path / "a.jsonl", anchor=tmp_path / "anchor.json").append("usage.export", "acme")
    assert entry["actor"] == f"user:{getpass.getuser()}" and entry["on_behalf_of"] == "svc:billing"


def test_the_key_and_the_anchor_live_outside_the_data_directory(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIFACTORY_AUDIT_KEY", raising=False)
    monkeypatch.setenv("AIFACTORY_AUDIT_KEY_FILE", str(tmp_path / "secrets" / "audit.key"))
    monkeypatch.setenv("AIFACTORY_AUDIT_ANCHORS", str(tmp_path / "anchors"))
    home = tmp_path / "home"
    audit = AuditLog(home / "governance" / "audit.jsonl")
    audit.append("keys.create", "acme", who="user:test")
    key = (tmp_path / "secrets" / "audit.key").read_bytes()
    assert len(key.strip()) == 64 and oct((tmp_path / "secrets" / "audit.key").stat().st_mode)[-3:] == "600"
    assert audit.anchor_path.parent == tmp_path / "anchors" and audit.anchor_path.exists()
    assert not any(key.strip() in f.read_bytes() for f in home.rglob("*") if f.is_file())
    assert audit.verify().ok


def test_a_log_from_before_the_audit_key_still_verifies_and_says_so(tmp_path: Path) -> None:
    """An upgraded home: its old entries were chained with plain SHA-256 and had an unsigned head."""
    audit = AuditLog(tmp_path / "audit.jsonl", anchor=tmp_path / "anchor.json")
    prev, old = "0" * 64, []
    for n in range(1, 4):
        entry: dict[str, Any] = {"seq": n, "at": "2026-11-01T00:00:00+00:00", "actor": "user:old", "action": "erase",
                                 "target": f"acme:s{n}", "details": {}, "prev": prev}
        entry["hash"] = prev = legacy_hash(entry)
        old.append(json.dumps(entry, sort_keys=True))
    audit.path.write_text("\n".join(old) + "\n")
    audit.head_path.write_text(json.dumps({"seq": 3, "hash": prev}))  # the old, unsigned head
    before = audit.verify()
    assert before.ok and "entries 1-3 predate the audit key" in before.note
    assert audit.append("keys.create", "acme", who="user:new")["seq"] == 4
    result = audit.verify()
    assert result.ok and result.entries == 4 and "entries 1-3 predate the audit key" in result.note
    # After a signed entry, an unsigned one is a forgery.
    forged = {"seq": 5, "at": "2026-12-06T00:00:00+00:00", "actor": "user:x", "action": "erase", "target": "acme:z",
              "details": {}, "prev": list(audit.entries())[-1]["hash"]}
    forged["hash"] = legacy_hash(forged)
    audit.path.write_text(audit.path.read_text() + json.dumps(forged, sort_keys=True) + "\n")
    assert not audit.verify().ok
