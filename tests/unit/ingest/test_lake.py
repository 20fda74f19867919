"""The lake keeps answering when one of its files is corrupt or truncated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from governance.audit import AuditLog
from governance.contracts import DocumentEvent, LogPosition
from ingest.errors import LakeError
from ingest.lake import Lake
from ingest.lake_store import LakeStore
from ingest.tables import RAW, raw_row


def event(tenant: str, n: int) -> DocumentEvent:
    return DocumentEvent.new(op="upsert", tenant=tenant, document_id=f"{tenant}:d{n}.md", version=1, text=f"text {n}",
                             jurisdiction="EU", region="eu-central", source_uri="", source_root="")


def test_a_corrupt_or_truncated_file_is_moved_aside_and_the_rest_still_answers(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    lake = Lake(tmp_path / "lake", audit=audit)
    at = LogPosition(epoch="e", topic="raw", partition=0, offset=0)
    [good] = [lake.root / k for k in lake.write(RAW, [raw_row(event("t1", 1), at)])]
    [truncated] = [lake.root / k for k in lake.write(RAW, [raw_row(event("t2", 2), at)])]
    truncated.write_bytes(truncated.read_bytes()[:40])
    garbage = good.parent / "part-garbage.parquet"
    garbage.write_bytes(b"PAR1 this is not a parquet file PAR1")

    # A fresh Lake, as the next command would open it.
    lake = Lake(tmp_path / "lake", audit=audit)
    con = lake.connect(RAW)
    try:
        assert con.execute("SELECT document_id FROM raw").fetchall() == [("t1:d1.md",)]
    finally:
        con.close()
    moved = sorted(p.name for p in (tmp_path / "lake" / "quarantine").rglob("*.parquet"))
    assert moved == sorted([truncated.name, garbage.name])
    entries = [e for e in audit.entries() if e["action"] == "lake.quarantined"]
    assert len(entries) == 2 and all("raw/region=eu-central" in e["target"] for e in entries)
    assert audit.verify().ok


def test_a_new_process_does_not_read_the_footers_checked_before_but_checks_a_changed_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each one-shot run read the footer of every file of the lake again: a cost that grew
    with the lake. Files checked or written once are remembered beside it."""
    at = LogPosition(epoch="e", topic="raw", partition=0, offset=0)
    first = Lake(tmp_path / "lake")
    keys = [k for n in range(3) for k in first.write(RAW, [raw_row(event(f"t{n}", n), at)])]
    read: list[str] = []
    real = Lake.read_schema

    def reading(self: Lake, key: str) -> Any:
        read.append(key)
        return real(self, key)

    monkeypatch.setattr(Lake, "read_schema", reading)
    assert Lake(tmp_path / "lake").files(RAW) == sorted(keys) and read == []

    changed = tmp_path / "lake" / keys[0]
    changed.write_bytes(changed.read_bytes()[:40])  # truncated in place: its size moved
    assert Lake(tmp_path / "lake").files(RAW) == sorted(keys[1:]) and read == [keys[0]]


def test_two_writers_of_the_same_rows_at_once_both_succeed(tmp_path: Path) -> None:
    """Two runs on one home land the same dead letter under the same derived file name;
    each writes its own temp file, and the second rename replaces the first's identical file."""
    import threading

    lake = Lake(tmp_path / "lake", audit=AuditLog(tmp_path / "audit.jsonl"))
    rows = [raw_row(event("t1", n), LogPosition(epoch="e", topic="raw", partition=0, offset=n)) for n in range(200)]
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def write() -> None:
        start.wait()
        try:
            for _ in range(20):
                lake.write(RAW, rows)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with lake.connect(RAW) as con:
        assert con.execute("SELECT count(*), count(DISTINCT event_id) FROM raw").fetchone() == (200, 200)
    assert not [p for p in (tmp_path / "lake").rglob("*.tmp")]


def test_a_listing_that_meets_a_folder_changing_under_it_walks_again(tmp_path: Path) -> None:
    """A service lands or compacts beside a command that lists the lake: a folder made or
    renamed mid-walk ends that walk with "no such file", and the next walk sees the tree."""
    store = LakeStore(tmp_path / "lake")
    (tmp_path / "lake" / "chunks" / "region=eu").mkdir(parents=True)
    (tmp_path / "lake" / "chunks" / "region=eu" / "a.parquet").write_bytes(b"x")
    place = store.default
    real = place.fs
    calls = {"n": 0}

    class Vanishing:
        def get_file_info(self, selector: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 1:
                raise FileNotFoundError(f"Cannot list directory '{selector.base_dir}'")
            return real.get_file_info(selector)

    object.__setattr__(place, "fs", Vanishing())  # a frozen dataclass: this test swaps its filesystem
    assert [f.key for f in store.listing("chunks")] == ["chunks/region=eu/a.parquet"] and calls["n"] == 2

    class Gone:
        def get_file_info(self, selector: Any) -> Any:
            raise FileNotFoundError(f"Cannot list directory '{selector.base_dir}'")

    object.__setattr__(place, "fs", Gone())
    with pytest.raises(LakeError, match="cannot list the lake at"):
        store.listing("chunks")
