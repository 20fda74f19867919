"""A lander asks the lake's keys through an index on disk (ingest/key_index.py): starting
it reads only the lake files added since the index last looked, not the whole table,
and the index never says a row is landed that the lake no longer holds."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from governance.contracts import DocumentEvent, LogPosition
from ingest.kafka import KafkaConnection
from ingest.key_index import KeyIndex
from ingest.lake import Lake
from ingest.landing import Lander
from ingest.tables import RAW, raw_row


def rows(names: list[str], offset: int = 0) -> list[dict[str, Any]]:
    out = []
    for n, name in enumerate(names):
        ev = DocumentEvent.new(op="upsert", tenant="acme", document_id=f"acme:{name}", version=1, text=f"{name} text",
                               jurisdiction="EU", region="eu-central", source_uri=f"file:///src/{name}",
                               source_root="file:///src")
        out.append(raw_row(ev, LogPosition(epoch="e", topic="raw", partition=0, offset=offset + n)))
    return out


def lander(lake: Lake) -> Lander:
    return Lander(cast(KafkaConnection, object()), lake, topic="raw", spec=RAW, decode=lambda v, at: {},
                  group_id="g")


@pytest.fixture
def files_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many lake files each read of the table opened."""
    counts: list[int] = []
    original = Lake.dataset_of

    def counting(self: Lake, keys: Any, schema: Any) -> Any:
        counts.append(len(keys))
        return original(self, keys, schema)

    monkeypatch.setattr(Lake, "dataset_of", counting)
    return counts


def test_a_lander_starting_reads_only_the_files_added_since_the_last_look(tmp_path: Path,
                                                                          files_read: list[int]) -> None:
    lake = Lake(tmp_path / "lake")
    for n in range(5):
        lake.write(RAW, rows([f"d{n}"], offset=n))
    first = lander(lake)
    assert sum(files_read) == 5 and first.keys.count() == 5  # built once, from every file
    files_read.clear()
    second = lander(lake)  # a restart on an unchanged lake reads nothing
    assert files_read == []
    lake.write(RAW, rows(["d5"], offset=5))
    lander(lake)
    assert sum(files_read) == 1  # only the new file
    landed = rows([f"d{n}" for n in range(6)])
    assert second.keys.landed(r["event_id"] for r in landed) == {r["event_id"] for r in landed}


def test_rows_a_lander_wrote_are_in_the_index_without_reading_them_back(tmp_path: Path,
                                                                        files_read: list[int]) -> None:
    lake = Lake(tmp_path / "lake")
    index = KeyIndex(lake, RAW)
    batch = rows(["a", "b"])
    index.land([r["event_id"] for r in batch], lambda new: lake.write(RAW, batch))
    other = KeyIndex(lake, RAW)  # another process's view of the same file
    other.refresh()
    assert files_read == [] and other.landed(r["event_id"] for r in batch) == {r["event_id"] for r in batch}


def test_after_rows_are_removed_from_the_lake_the_index_no_longer_holds_them(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    batch = rows(["a", "b", "c"])
    lake.write(RAW, batch)
    index = KeyIndex(lake, RAW)
    index.refresh()
    gone = batch[1]["event_id"]
    lake.remove_rows(RAW, "event_id", {gone})  # an erasure rewrites the file under a new name
    index.refresh()
    assert index.landed(r["event_id"] for r in batch) == {batch[0]["event_id"], batch[2]["event_id"]}


def test_an_empty_table_makes_no_index_file(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    index = KeyIndex(lake, RAW)
    index.refresh()
    assert index.landed(["x"]) == set() and not (tmp_path / "lake").exists()


def test_the_index_is_a_cache_deleting_it_costs_a_rebuild(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    batch = rows(["a", "b"])
    lake.write(RAW, batch)
    index = KeyIndex(lake, RAW)
    index.refresh()
    index.close()
    index.path.unlink()
    again = KeyIndex(lake, RAW)
    again.refresh()
    assert again.count() == 2


def test_two_members_that_read_the_same_rows_land_and_meter_them_once(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """In a rebalance two members can hold one partition at once (the broker hands it on
    before the old owner lets go) and both read its rows. Both flush at the same moment:
    the rows reach the lake, and the ledger, once."""
    both = threading.Barrier(2, timeout=1.0)
    original = Lake.write

    def slow_write(self: Lake, spec: Any, batch: list[dict[str, Any]]) -> list[str]:
        with contextlib.suppress(threading.BrokenBarrierError):
            both.wait()  # the other member reaches its write too, unless it must wait for this one
        return original(self, spec, batch)

    monkeypatch.setattr(Lake, "write", slow_write)
    metered: list[str] = []
    batch = rows([f"d{n}" for n in range(5)])
    members = []
    for _ in range(2):  # two processes: a lake and a key index each
        member = lander(Lake(tmp_path / "lake"))
        member.on_landed = lambda landed: metered.extend(r["event_id"] for r in landed)
        member._rows = list(batch)  # what each read from the partition they both held
        members.append(member)
    consumer = SimpleNamespace(commit=lambda offsets: None)
    flushes = [threading.Thread(target=m.flush, args=(consumer,)) for m in members]
    for t in flushes:
        t.start()
    for t in flushes:
        t.join()
    assert sorted(metered) == sorted(r["event_id"] for r in batch)
    assert sum(m.rows_landed for m in members) == len(batch)
