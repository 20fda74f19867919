"""The raw table's gateway answers with typed records, over real Parquet and DuckDB."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from governance.contracts import DocumentEvent, LogPosition, content_hash
from ingest import raw_table
from ingest.lake import Lake
from ingest.raw_table import EventPlace, LatestVersion, LiveDocument
from ingest.tables import RAW, raw_row

ROOT = "file:///src"


def event(tenant: str, doc: str, version: int, text: str = "", *, op: str = "upsert", region: str = "eu-central",
          **fields: object) -> DocumentEvent:
    return DocumentEvent.new(op=op, tenant=tenant, document_id=f"{tenant}:{doc}", version=version, text=text,
                             jurisdiction="EU" if region == "eu-central" else "US", region=region,
                             source_uri=f"{ROOT}/{doc}", source_root=ROOT, **fields)


def land(lake: Lake, *events: DocumentEvent) -> None:
    lake.write(RAW, [raw_row(e, LogPosition(epoch="e", topic="raw", partition=0, offset=n))
                     for n, e in enumerate(events)])


def filled(tmp_path: Path) -> tuple[Lake, list[DocumentEvent]]:
    lake = Lake(tmp_path / "lake")
    events = [
        event("acme", "a.md", 1, "first text", subjects=["subj-1"]),
        event("acme", "a.md", 2, "second text with a secret"),
        event("acme", "b.md", 1, "bee text"),
        event("acme", "b.md", 2, op="delete", requested="del-1", subjects=["subj-9"]),
        event("globex", "c.md", 1, "sea text", region="us-east"),
    ]
    land(lake, *events)
    return lake, events


def test_an_empty_or_missing_table_answers_empty(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "no-lake-here")
    assert raw_table.latest_versions(lake, "acme") == {}
    assert raw_table.erased_subjects(lake, "acme") == set()
    assert raw_table.events(lake) == [] and raw_table.events_by_id(lake, ["x"]) == []
    assert raw_table.event_ids(lake) == set()
    assert raw_table.newest_landed(lake) is None
    assert raw_table.tenants(lake) == [] and raw_table.tenant_regions(lake, "acme") == []
    assert raw_table.document_head(lake, "acme", "acme:a.md") is None
    assert raw_table.upserts_naming(lake, "acme", "acme:a.md", "") == []
    assert raw_table.is_live(lake, "acme", "acme:a.md") is False
    assert raw_table.live_documents(lake, "acme") == []
    assert raw_table.rows_holding(lake, "acme", lambda text: True) == []
    assert raw_table.locate_event(lake, "x") == [] and raw_table.document_events(lake, "acme:a.md") == []


def test_latest_versions_and_erased_subjects_are_what_a_scan_compares(tmp_path: Path) -> None:
    lake, _ = filled(tmp_path)
    latest = raw_table.latest_versions(lake, "acme")
    assert latest == {
        "acme:a.md": LatestVersion(version=2, op="upsert", content_hash=content_hash("second text with a secret"),
                                   requested="", upsert_hash=content_hash("second text with a secret"),
                                   source_root=ROOT),
        # A requested delete keeps the hash of the upsert it deleted.
        "acme:b.md": LatestVersion(version=2, op="delete", content_hash="", requested="del-1",
                                   upsert_hash=content_hash("bee text"), source_root=ROOT),
    }
    assert raw_table.erased_subjects(lake, "acme") == {"subj-9"}
    assert raw_table.erased_subjects(lake, "globex") == set()


def test_events_come_back_as_document_events_in_order(tmp_path: Path) -> None:
    lake, events = filled(tmp_path)
    got = raw_table.events(lake)
    assert [(e.document_id, e.version) for e in got] == sorted((e.document_id, e.version) for e in events)
    assert all(isinstance(e, DocumentEvent) and e.origin is not None for e in got)
    assert {e.event_id for e in got} == raw_table.event_ids(lake) == {e.event_id for e in events}
    picked = raw_table.events_by_id(lake, [events[4].event_id, events[0].event_id])
    assert [e.event_id for e in picked] == [events[0].event_id, events[4].event_id]
    assert picked[0].text == "first text" and picked[0].subjects == ["subj-1"]


def test_tenants_regions_and_newest_landed(tmp_path: Path) -> None:
    lake, _ = filled(tmp_path)
    assert raw_table.tenants(lake) == ["acme", "globex"]
    assert raw_table.tenant_regions(lake, "globex") == ["us-east"]
    assert raw_table.tenant_regions(lake, "nobody") == []
    assert isinstance(raw_table.newest_landed(lake), datetime)


def test_document_head_is_the_latest_version_of_the_tenants_document(tmp_path: Path) -> None:
    lake, events = filled(tmp_path)
    head = raw_table.document_head(lake, "acme", "acme:b.md")
    assert head is not None
    assert (head.version, head.op, head.event_id, head.region) == (2, "delete", events[3].event_id, "eu-central")
    assert isinstance(head.event_time, datetime)
    assert raw_table.document_head(lake, "globex", "acme:b.md") is None  # another tenant's document


def test_what_erasure_and_deletes_read(tmp_path: Path) -> None:
    lake, events = filled(tmp_path)
    a1, a2 = events[0], events[1]
    assert raw_table.upserts_naming(lake, "acme", "acme:a.md", "") == sorted(
        EventPlace(e.event_id, e.document_id, e.source_uri, e.region) for e in (a1, a2))
    assert raw_table.upserts_naming(lake, "acme", "", "subj-1") == [
        EventPlace(a1.event_id, a1.document_id, a1.source_uri, a1.region)]
    assert raw_table.upserts_naming(lake, "globex", "acme:a.md", "") == []
    assert raw_table.is_live(lake, "acme", "acme:a.md") is True
    assert raw_table.is_live(lake, "acme", "acme:b.md") is False
    assert raw_table.live_documents(lake, "acme") == [LiveDocument(
        document_id="acme:a.md", version=2, jurisdiction="EU", region="eu-central", source_uri=a2.source_uri,
        source_root=ROOT, subjects=(), content_hash=a2.content_hash)]
    assert raw_table.rows_holding(lake, "acme", lambda text: "secret" in text) == [
        EventPlace(a2.event_id, a2.document_id, a2.source_uri, a2.region)]
    assert raw_table.rows_holding(lake, "globex", lambda text: "secret" in text) == []


def test_located_events_name_their_file_and_row(tmp_path: Path) -> None:
    lake, events = filled(tmp_path)
    [found] = raw_table.locate_event(lake, events[4].event_id)
    assert found.lake_file.startswith("raw/region=us-east/tenant=globex/") and found.lake_row == 0
    assert found.values["event_id"] == events[4].event_id and found.values["log_offset"] == 4
    versions = raw_table.document_events(lake, "acme:a.md", "acme")
    assert sorted(r.values["version"] for r in versions) == [1, 2]
    assert raw_table.document_events(lake, "acme:a.md", "globex") == []
