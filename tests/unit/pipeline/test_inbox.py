"""Documents sent through the API are durable before the answer: a request accepted by a
server that stopped before its worker ran it is carried out by the next backend, once,
and its outcome names each document's events or the reason it was dead-lettered."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from governance.contracts import DeadLetter, DocumentEvent
from ingest.errors import SourceError
from ingest.sources import IngestReport, Source, file_uri
from pipeline import inbox as inbox_module
from pipeline.factory import Factory
from pipeline.inbox import Inbox, InboxError, append_ticket, within
from pipeline.runner import RunReport
from pipeline.service import ApiBackend
from pipeline.settings import FactorySettings


class FakeEmbedder:
    model_path = "fake"


class FakeRuns:
    """Stands in for `runner.run`: records each source and what its files held, and reports
    a.txt published and bad.pdf dead-lettered, as the scan would."""

    def __init__(self) -> None:
        self.calls: list[tuple[Source, dict[str, bytes]]] = []

    def __call__(self, factory: Factory, sources: list[Source], **_: Any) -> RunReport:
        (source,) = sources
        self.calls.append((source, {name: (source.root / name).read_bytes() for name in source.files}))
        root = source.root.resolve()
        event = DocumentEvent.new(
            op="upsert",
            tenant=source.tenant,
            document_id=f"{source.tenant}:notes/a.txt",
            version=1,
            text="hello",
            jurisdiction=source.jurisdiction,
            region="eu-central",
            source_uri=file_uri(root, "notes/a.txt"),
            source_root=root.as_uri(),
        )
        letter = DeadLetter.new(
            stage="ingest",
            error=SourceError("bad.pdf: not a PDF; re-export it"),
            source_uri=file_uri(root, "bad.pdf"),
            key="k",
            tenant=source.tenant,
        )
        return RunReport(ingest=[IngestReport(files=2, published=[event], dead_letters=[letter])])


@pytest.fixture
def factory(tmp_path: Path) -> Factory:
    made = Factory(FactorySettings(home=tmp_path / "home"), embedder=FakeEmbedder())  # type: ignore[arg-type]
    made.__dict__["index"] = object()  # the backend keeps it; nothing here searches
    return made


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> FakeRuns:
    fake = FakeRuns()
    monkeypatch.setattr(inbox_module.runner, "run", fake)
    return fake


def settled(backend: ApiBackend, tenant: str, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while (ticket := backend.ingestion(tenant, request_id)) and ticket["state"] in ("pending", "running"):
        assert time.monotonic() < deadline, "the request was not carried out"
        time.sleep(0.02)
    assert ticket is not None
    return ticket


def test_a_request_accepted_before_a_stop_is_carried_out_by_the_next_backend(factory: Factory, runs: FakeRuns) -> None:
    # Accepted (staged and journalled) by a server that stopped before its worker ran it.
    accepted = Inbox(factory).submit("acme", "EU", [("notes/a.txt", b"hello"), ("bad.pdf", b"junk")], "key:k1")
    home = factory.settings.home
    staged = home / "inbox" / "acme" / accepted["request_id"]
    assert (staged / "notes" / "a.txt").read_bytes() == b"hello" and accepted["state"] == "pending"
    assert [d["document_id"] for d in accepted["documents"]] == ["acme:notes/a.txt", "acme:bad.pdf"]
    assert "tenant" not in accepted and "actor" not in accepted
    assert runs.calls == []

    backend = ApiBackend(factory)
    try:
        done = settled(backend, "acme", accepted["request_id"])
        assert backend.ingestion("helio-eu", accepted["request_id"]) is None  # another tenant's request
    finally:
        backend.close()
    ((source, held),) = runs.calls
    assert source.root == home / "api-sources" / "acme" and source.files == ("notes/a.txt", "bad.pdf")
    assert (source.tenant, source.jurisdiction) == ("acme", "EU")
    assert held == {"notes/a.txt": b"hello", "bad.pdf": b"junk"}  # the staged bytes, in the tenant's folder
    assert done["state"] == "complete" and (done["published"], done["dead_lettered"]) == (1, 1)
    published, letter = done["documents"]
    assert published["state"] == "published" and [e["version"] for e in published["events"]] == [1]
    assert done["event_ids"] == [published["events"][0]["event_id"]]
    assert letter["state"] == "dead_lettered" and "not a PDF" in letter["reason"]
    assert not staged.exists()  # the bytes live on in the tenant's folder
    journal = [json.loads(line) for line in (home / "state" / "api-documents.jsonl").read_text().splitlines()]
    assert [t["state"] for t in journal] == ["pending", "running", "complete"]

    again = ApiBackend(factory)  # a finished request is not run again
    again.close()
    assert len(runs.calls) == 1


def test_a_request_cut_short_while_running_is_run_again(factory: Factory, runs: FakeRuns) -> None:
    first = Inbox(factory)
    accepted = first.submit("acme", "EU", [("notes/a.txt", b"v1")])
    append_ticket(first.journal, {**accepted, "tenant": "acme", "actor": "", "state": "running"})  # then it died
    assert [t["request_id"] for t in Inbox(factory).unfinished()] == [accepted["request_id"]]
    backend = ApiBackend(factory)
    try:
        assert settled(backend, "acme", accepted["request_id"])["state"] == "complete"
    finally:
        backend.close()
    assert len(runs.calls) == 1


def test_a_name_that_leaves_the_folder_is_refused(tmp_path: Path) -> None:
    for name in ("../escape.txt", "/etc/passwd", "a/../../b.txt"):
        with pytest.raises(InboxError, match="leads out of"):
            within(tmp_path, name)
    assert within(tmp_path, "a/b.txt") == tmp_path / "a" / "b.txt"
