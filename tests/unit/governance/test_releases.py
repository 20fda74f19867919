"""A reviewer's decisions on quarantined chunks: the last one per chunk is in force, a
hold undoes a release, and a reader that kept the file's size reads only what came since."""

from __future__ import annotations

import threading
from pathlib import Path

from governance.releases import Releases


def test_the_last_decision_per_chunk_is_in_force(tmp_path: Path) -> None:
    book = Releases(tmp_path / "releases.jsonl")
    assert book.current() == {} and book.size() == 0
    book.record("acme", ["c1", "c2"], decision="release", reason="training page", by="user:ana")
    at = book.size()
    assert set(book.current()) == {("acme", "c1"), ("acme", "c2")}
    book.record("acme", ["c1"], decision="hold", reason="second look", by="user:bo")
    book.record("beta", ["c1"], decision="release", reason="other tenant", by="user:bo")
    assert set(book.current()) == {("acme", "c2"), ("beta", "c1")}  # a chunk id is per tenant
    assert book.current()[("acme", "c2")].note()["reason"] == "training page"
    assert [(r.tenant, r.chunk_id, r.decision) for r in book.since(at)] == [("acme", "c1", "hold"),
                                                                          ("beta", "c1", "release")]


def test_decisions_from_many_threads_are_all_kept_whole(tmp_path: Path) -> None:
    path = tmp_path / "releases.jsonl"

    def decide(n: int) -> None:
        Releases(path).record("acme", [f"c{n}-{i}" for i in range(20)], decision="release", reason="ok",
                              by="user:ana")

    threads = [threading.Thread(target=decide, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(Releases(path).current()) == 160
