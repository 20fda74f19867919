"""The file source decides what to publish against what the raw lake already holds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

from governance.contracts import DocumentEvent, LogPosition
from governance.residency import DEFAULT_POLICY
from ingest.lake import Lake
from ingest.sources import Source, scan
from ingest.tables import RAW, raw_row


def land(lake: Lake, events: list[DocumentEvent]) -> None:
    lake.write(RAW, [raw_row(e, LogPosition(epoch="e", topic="raw", partition=0, offset=n))
                     for n, e in enumerate(events)])


def test_new_unchanged_changed_deleted_and_bad(tmp_path: Path) -> None:
    root = tmp_path / "src"
    (root / "sub").mkdir(parents=True)
    (root / "a.md").write_text("# A\nalpha")
    (root / "sub" / "b.txt").write_text("beta")
    (root / "logo.bin").write_bytes(b"\x00\x01")
    (tmp_path / "outside.md").write_text("# secret outside the root")
    (root / "link.md").symlink_to(tmp_path / "outside.md")
    lake = Lake(tmp_path / "lake")
    source = Source(root, "acme", "EU")

    first = scan(source, DEFAULT_POLICY, lake)
    assert sorted(e.document_id for e in first.published) == ["acme:a.md", "acme:sub/b.txt"]
    assert {e.region for e in first.published} == {"eu-central"} and first.files == 4
    reasons = sorted(d.reason for d in first.dead_letters)
    assert reasons[0] == (f"link.md: symlink to {tmp_path / 'outside.md'}, outside the source root {root}; "
                          "it is not followed")
    assert reasons[1].startswith("logo.bin: unsupported file type")
    bad = next(d for d in first.dead_letters if d.source_uri.endswith("logo.bin"))
    assert Path(unquote(urlparse(bad.original_uri).path)).read_bytes() == b"\x00\x01"
    assert "region=eu-central" in unquote(bad.original_uri) and bad.content_sha256
    land(lake, first.published)

    assert scan(source, DEFAULT_POLICY, lake).published == []

    (root / "a.md").write_text("# A\nalpha, edited")
    (root / "sub" / "b.txt").unlink()
    (root / "c.md").write_bytes(b"")
    second = scan(source, DEFAULT_POLICY, lake)
    assert sorted((e.document_id, e.op, e.version) for e in second.published) == [
        ("acme:a.md", "upsert", 2), ("acme:sub/b.txt", "delete", 2)]
    assert "c.md: the file is empty (0 bytes); remove it or give it content" in [d.reason for d in second.dead_letters]
    assert {d.tenant for d in second.dead_letters} == {"acme"}
    assert all(e.event_time <= datetime.now(UTC) for e in second.published)


def test_sources_file_sets_record_fields(tmp_path: Path) -> None:
    from aifactory.settings import load_sources

    spec = tmp_path / "sources.yaml"
    spec.write_text("sources:\n  - {path: a, tenant: t, jurisdiction: EU}\n"
                    "  - {path: b, tenant: u, jurisdiction: US, fields: {id: sku, text: [summary, details]}}\n")
    first, second = load_sources(spec)
    assert first.root == tmp_path / "a" and first.fields.text == ("text",)
    assert (second.fields.id, second.fields.text, second.fields.metadata) == ("sku", ("summary", "details"), None)
