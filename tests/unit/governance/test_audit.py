"""The audit log's chain catches an altered byte, a removed entry, a swapped pair
and a cut-off end, and names the first entry that does not fit."""

from __future__ import annotations

from pathlib import Path

import pytest

from governance.audit import AuditLog


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    audit = AuditLog(tmp_path / "audit.jsonl")
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
