"""The file source decides what to publish against what the raw lake already holds."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from governance.contracts import DocumentEvent, LogPosition
from governance.residency import DEFAULT_POLICY
from ingest.lake import Lake
from ingest.sources import Source, file_uri, scan, walk
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
    from pipeline.settings import load_sources

    spec = tmp_path / "sources.yaml"
    spec.write_text("sources:\n  - {path: a, tenant: t, jurisdiction: EU}\n"
                    "  - {path: b, tenant: u, jurisdiction: US, fields: {id: sku, text: [summary, details]}}\n")
    first, second = load_sources(spec)
    assert first.root == tmp_path / "a" and first.fields.text == ("text",)
    assert (second.fields.id, second.fields.text, second.fields.metadata) == ("sku", ("summary", "details"), None)


def test_privacy_policy_redacts_at_the_edge_and_drops_what_it_must(tmp_path: Path) -> None:
    from governance.privacy import load_privacy_policy

    root = tmp_path / "src"
    root.mkdir()
    (root / "ok.md").write_text("# Contact\nMail ann@example.com or call +1 512 555 0147.")
    (root / "ssn.md").write_text("# Payroll\nEmployee SSN 078-05-1120 on file.")
    policy_file = tmp_path / "privacy.yaml"
    policy_file.write_text("default: {email: hash}\njurisdictions:\n  US: {national_id: drop}\n")
    policy = load_privacy_policy(policy_file)
    report = scan(Source(root, "acme", "US"), DEFAULT_POLICY, Lake(tmp_path / "lake"), privacy=policy, secret=b"k")
    [event] = report.published
    assert "ann@example.com" not in event.text and "[EMAIL:" in event.text and "[PHONE]" in event.text
    assert event.pii == {"email": 1, "phone": 1}
    [letter] = report.dead_letters
    assert letter.reason == ("ssn.md: document dropped: it contains national_id x1, and their mode is 'drop'")
    assert "078-05-1120" not in letter.model_dump_json()
    # The same value hashes alike within a tenant and differently for another.
    again = scan(Source(root, "acme", "US"), DEFAULT_POLICY, Lake(tmp_path / "l2"), privacy=policy, secret=b"k")
    other = scan(Source(root, "beta", "US"), DEFAULT_POLICY, Lake(tmp_path / "l3"), privacy=policy, secret=b"k")
    assert again.published[0].text == event.text != other.published[0].text


@pytest.mark.parametrize(("root", "rel"), [("/tmp/a b", "x/y z#?.md"), ("/", "etc/notes.md"),
                                           ("/tmp/é", "ü/%41.md"), ("/tmp", "a\udcff.md")])
def test_file_uri_is_the_path_uri(root: str, rel: str) -> None:
    # Built from the root's URI per file, it must equal what pathlib would give.
    assert file_uri(Path(root), rel, "r1") == (Path(root) / rel).as_uri() + "#r1"


def test_the_walk_lists_what_a_pathlib_walk_would_with_the_reasons_it_gave(tmp_path: Path) -> None:
    """One scandir per folder instead of two stats and a path per file: the same files, in
    the same order (a folder's files before its folders), with the same refusals."""
    root = tmp_path / "src"
    for rel in ("b.md", "a.md", "z/c.md", "z/y/d.md", "m/e.md", ".hidden.md", ".git/f.md", "m/.g.md"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    (tmp_path / "outside.md").write_text("secret")
    (root / "m" / "in.md").symlink_to(root / "a.md")  # inside the root: read
    (root / "out.md").symlink_to(tmp_path / "outside.md")  # outside: refused
    (root / "linked").symlink_to(root / "z")  # a linked folder: not entered
    (root / "broken.md").symlink_to(root / "gone.md")
    os.mkfifo(root / "pipe")
    unreadable: list[tuple[Path, str]] = []
    found = [(rel, problem) for _, rel, problem, _ in walk(root.resolve(), unreadable)]
    assert [rel for rel, _ in found] == ["a.md", "b.md", "broken.md", "out.md", "pipe", "m/e.md", "m/in.md",
                                         "z/c.md", "z/y/d.md"]
    reasons = dict(found)
    assert reasons["out.md"] is not None and "outside the source root" in reasons["out.md"]
    assert reasons["pipe"] is not None and "FIFO" in reasons["pipe"]
    assert reasons["broken.md"] is not None and "cannot be read" in reasons["broken.md"]
    assert reasons["m/in.md"] is None and reasons["a.md"] is None and unreadable == []
