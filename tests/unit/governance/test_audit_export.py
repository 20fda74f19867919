"""An audit export verifies offline with the operator's public key alone, and every
change made to it after it left the operator is caught."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from governance.audit import AuditLog
from governance.audit_export import AuditExportError, _body, export, public_key, signing_key, verify_export

KEY = b"operator-secret" * 3


def made(tmp_path: Path, n: int = 4) -> tuple[AuditLog, Path]:
    log = AuditLog(tmp_path / "home" / "audit.jsonl", key=KEY, anchor=tmp_path / "anchor.json")
    for i in range(n):
        log.append("keys.create", "acme", key_id=f"k{i}")
    out = tmp_path / "export.json"
    export(log, out)
    return log, out


def resign(doc: dict, key: bytes) -> dict:
    """What a forger with a key of their own would do after changing the export."""
    doc["public_key"] = public_key(key)
    doc["signature"] = signing_key(key).sign(_body(doc)).hex()
    return doc


def test_an_export_verifies_offline_with_the_operators_public_key(tmp_path: Path) -> None:
    _, out = made(tmp_path)
    check = verify_export(out, public_key(KEY))
    assert check.ok and check.entries == 4 and check.key_trusted
    assert verify_export(out).ok and not verify_export(out).key_trusted  # its own key: checked, not trusted


@pytest.mark.parametrize("tamper", ["alter", "cut", "swap", "resign", "resign_cut"])
def test_each_change_after_export_is_caught(tmp_path: Path, tamper: str) -> None:
    _, out = made(tmp_path)
    doc = json.loads(out.read_text())
    if tamper == "alter":
        doc["entries"][1]["details"]["key_id"] = "forged"
    elif tamper == "cut":
        doc["entries"].pop()
    elif tamper == "swap":
        doc["entries"][1], doc["entries"][2] = doc["entries"][2], doc["entries"][1]
    elif tamper == "resign":
        resign(doc, b"forger")
    else:  # a shorter history, signed by the forger with a consistent head
        doc["entries"] = doc["entries"][:2]
        doc["head"] = {"seq": 2, "hash": doc["entries"][-1]["hash"]}
        resign(doc, b"forger")
    out.write_text(json.dumps(doc))
    check = verify_export(out, public_key(KEY))
    assert not check.ok, tamper
    assert ("another key" if tamper.startswith("resign") else "signature does not hold") in check.problem


def test_a_log_that_does_not_verify_is_not_exported(tmp_path: Path) -> None:
    log, _ = made(tmp_path)
    lines = log.path.read_text().splitlines()
    log.path.write_text("\n".join(lines[:1] + lines[2:]) + "\n")
    with pytest.raises(AuditExportError, match="does not verify"):
        export(log, tmp_path / "again.json")


def test_damaged_or_foreign_files_are_findings(tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_bytes(b"\xff\xfe")
    assert "cannot be read" in verify_export(other).problem
    other.write_text("[1, 2]")
    assert "not an audit export" in verify_export(other).problem
    _, out = made(tmp_path)
    assert "64 hex digits" in verify_export(out, "zz").problem


def test_an_export_into_a_missing_folder_names_the_folder(tmp_path: Path) -> None:
    log, _ = made(tmp_path)
    with pytest.raises(AuditExportError, match=f"the folder {tmp_path / 'nowhere'} does not exist; create it"):
        export(log, tmp_path / "nowhere" / "export.json")
    assert not (tmp_path / "nowhere").exists()
