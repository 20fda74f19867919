"""Ordinary files and odd folders that once stopped a tenant or lost its data: each
either goes through or becomes a dead letter naming the file, and the rest of the
folder goes on."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from governance.contracts import DocumentEvent
from ingest.kafka import connect
from ingest.sources import Source
from ingest.tables import RAW
from pipeline import runner
from pipeline.deadletters import list_dead_letters
from pipeline.factory import Factory
from tests.conftest import MakeFactory

pytestmark = pytest.mark.integration


def raw_documents(factory: Factory) -> dict[str, tuple[int, str]]:
    """document id -> (latest version, op) in the raw lake."""
    con = factory.lake.connect(RAW)
    try:
        rows = con.execute("SELECT document_id, max(version), arg_max(op, version) FROM raw GROUP BY 1").fetchall()
    finally:
        con.close()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_large_but_allowed_documents_pass_as_single_messages(tmp_path: Path, make_factory: MakeFactory) -> None:
    src = tmp_path / "src"
    src.mkdir()
    lines = (" ".join(f"word{(i * 10 + j) % 997}" for j in range(10)) for i in range(25_000))
    (src / "big.txt").write_text("\n".join(lines))  # ~2 MB of plain text, under every limit
    (src / "wide.csv").write_text("id,text\n1," + "y" * 140_000 + "\n2,short row\n")  # a field over csv's 131,072
    (src / "surrogate.jsonl").write_text(json.dumps({"id": "a", "text": "lone \ud800 surrogate"}) + "\n")
    (src / "records.jsonl").write_text("".join(json.dumps({"id": f"r{i}", "text": "z" * 1_000}) + "\n"
                                               for i in range(6_000)))  # 6 M characters over 6,000 records
    (src / "dupes.jsonl").write_text(json.dumps({"id": "same", "text": "first"}) + "\n"
                                     + json.dumps({"id": "same", "text": "second"}) + "\n")
    (src / "good.md").write_text("# Good\nA fine document.")
    factory = make_factory(tmp_path / "home")
    report = runner.ingest_only(factory, [Source(src, "t1", "EU")])
    assert report.dead_letters_landed == 0, list_dead_letters(factory)
    docs = raw_documents(factory)
    assert {"t1:big.txt", "t1:wide.csv#1", "t1:wide.csv#2", "t1:surrogate.jsonl#a", "t1:good.md",
            "t1:dupes.jsonl#same", "t1:dupes.jsonl#same~2"} <= set(docs)
    assert sum(d.startswith("t1:records.jsonl#") for d in docs) == 6_000
    # Nothing changed: a rerun publishes nothing (duplicate ids used to flip versions every run).
    again = runner.ingest_only(factory, [Source(src, "t1", "EU")])
    assert again.published == 0


def test_a_fifo_is_a_dead_letter_not_a_hang(tmp_path: Path, make_factory: MakeFactory) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "good.md").write_text("# Good\nA fine document.")
    os.mkfifo(src / "pipe.txt")
    factory = make_factory(tmp_path / "home")
    done = threading.Event()
    result: list[runner.RunReport] = []
    worker = threading.Thread(target=lambda: (result.append(runner.ingest_only(factory, [Source(src, "t1", "EU")])),
                                              done.set()), daemon=True)
    worker.start()
    if not done.wait(120):
        with open(src / "pipe.txt", "wb"):  # unblock the reader so the test ends
            pass
        raise AssertionError("the scan blocked on a FIFO")
    letters = list_dead_letters(factory)
    assert [Path(d["source_uri"]).name for d in letters] == ["pipe.txt"]
    assert "FIFO" in letters[0]["reason"]
    assert "t1:good.md" in raw_documents(factory)


def test_a_folder_that_cannot_be_listed_deletes_nothing(tmp_path: Path, make_factory: MakeFactory,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    (src / "team").mkdir(parents=True)
    (src / "team" / "a.md").write_text("# A\nAlpha.")
    (src / "top.md").write_text("# Top\nTop level.")
    factory = make_factory(tmp_path / "home")
    runner.ingest_only(factory, [Source(src, "t1", "EU")])
    assert raw_documents(factory)["t1:team/a.md"] == (1, "upsert")

    # The folder turns unreadable (permissions, a lost mount). As root, chmod does not stop
    # us reading, so the listing error is made where os.walk meets it.
    real_scandir = os.scandir

    def scandir(path: object = ".") -> object:
        if Path(str(path)).name == "team":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)
    report = runner.ingest_only(factory, [Source(src, "t1", "EU")])
    assert report.summary()["deleted"] == 0
    assert raw_documents(factory)["t1:team/a.md"] == (1, "upsert"), "an access error deleted a document"
    letters = list_dead_letters(factory)
    assert any("team/: the folder cannot be listed (Permission denied)" in d["reason"] for d in letters), letters


def test_two_folders_of_one_tenant_cannot_share_a_document_id(tmp_path: Path, make_factory: MakeFactory) -> None:
    for region, text in (("eu", "EU policy: 30 days of leave."), ("us", "US policy: 15 days of leave.")):
        (tmp_path / region).mkdir()
        (tmp_path / region / "policy.md").write_text(f"# Policy\n{text}")
    sources = [Source(tmp_path / "eu", "t1", "EU"), Source(tmp_path / "us", "t1", "US")]
    factory = make_factory(tmp_path / "home")
    first = runner.ingest_only(factory, sources)
    assert first.published == 1
    [letter] = list_dead_letters(factory)
    assert letter["source_uri"].endswith("/us/policy.md") and "another source of tenant t1" in letter["reason"]
    # No flip-flop of versions between the two copies: reruns publish nothing.
    assert runner.ingest_only(factory, sources).published == 0
    assert raw_documents(factory)["t1:policy.md"] == (1, "upsert")


def test_a_moved_folder_continues_its_documents(tmp_path: Path, make_factory: MakeFactory) -> None:
    old = tmp_path / "corpus"
    old.mkdir()
    (old / "a.md").write_text("# A\nAlpha.")
    (old / "b.md").write_text("# B\nBeta.")
    factory = make_factory(tmp_path / "home")
    runner.ingest_only(factory, [Source(old, "t1", "EU")])
    new = old.rename(tmp_path / "moved")
    moved = runner.ingest_only(factory, [Source(new, "t1", "EU")])
    assert moved.published == 2 and moved.dead_letters_landed == 0  # new citations, same documents
    assert raw_documents(factory)["t1:a.md"] == (2, "upsert")
    assert runner.ingest_only(factory, [Source(new, "t1", "EU")]).published == 0
    (new / "a.md").write_text("# A\nAlpha, edited.")
    assert runner.ingest_only(factory, [Source(new, "t1", "EU")]).published == 1
    assert raw_documents(factory)["t1:a.md"] == (3, "upsert")
    (new / "b.md").unlink()
    assert runner.ingest_only(factory, [Source(new, "t1", "EU")]).summary()["deleted"] == 1


def test_a_producer_cannot_name_a_tenant_that_leaves_the_lake(tmp_path: Path, make_factory: MakeFactory) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "good.md").write_text("# Good\nA fine document.")
    factory = make_factory(tmp_path / "home")
    event = DocumentEvent.new(op="upsert", tenant="t1", document_id="t1:evil.md", version=1, text="evil",
                              jurisdiction="EU", region="eu-central", source_uri="", source_root="")
    bad = event.model_dump(mode="json") | {"tenant": "../../escaped"}
    with connect(factory.settings.kafka) as conn:
        # Keyed like the good document: same partition, ahead of it, so landed before the run ends.
        conn.produce([(conn.settings.raw_topic, b"t1:good.md", json.dumps(bad).encode())])
    runner.run(factory, [Source(src, "t1", "EU")])
    assert not [p for p in tmp_path.rglob("*escaped*")], "a lake file was written outside the lake"
    letters = list_dead_letters(factory)
    assert any(d["error_class"] == "ContractError" and "tenant" in d["reason"] for d in letters), letters
    assert "t1:good.md" in raw_documents(factory)
