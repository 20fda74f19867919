"""The file source: walk a folder, parse each file, publish document events.

Only what changed is published: a document whose text equals its latest version in
the raw lake is skipped, and a document the lake knows under this source root but
the folder no longer holds gets a delete event. Versions count up per document.
With a scan cache (`ingest.scancache`), a file whose bytes are unchanged and whose
documents are still the latest upserts in the raw lake is counted unchanged
without being parsed again; the lake stays the truth.

Personal data in a file's path or a record's id is hashed (`redact_identifier`) before
it becomes a document id or a source URI, the same way wherever ids are compared with
the raw lake, the scan cache or `Source.files`; dead letters' reasons and URIs too.

A delete asked for (`aifactory delete`) sticks: the document is held back while its
source still holds the text that was deleted, and any document naming an erased
data subject is held back, so the next scan does not undo the request.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import stat
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_from_bytes, urlparse
from urllib.request import url2pathname

from governance.contracts import DeadLetter, DocumentEvent
from governance.pii import DropDocument, subjects_in
from governance.privacy import PrivacyPolicy, apply_privacy, redact_identifier, tenant_key
from governance.residency import ResidencyPolicy
from ingest.errors import SourceError
from ingest.kafka import KafkaConnection
from ingest.lake import Lake
from ingest.limits import Limits
from ingest.parsers import PARSER_VERSION, Parsed, parse
from ingest.raw_table import LatestVersion, erased_subjects, latest_versions
from ingest.raw_view import RawView
from ingest.records import RecordFields
from ingest.scancache import FileEntry, ScanCache, context_fingerprint, secret_fingerprint, settled, signature

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Source:
    """A folder of documents that belongs to one tenant and one jurisdiction;
    `fields` says which fields of CSV/JSON records are id, title, text, metadata.
    `files`, when given, narrows the source to those paths under `root` (a person
    ingesting single files): only they are read, and only their documents can be
    deleted by the scan."""

    root: Path
    tenant: str
    jurisdiction: str
    fields: RecordFields = field(default_factory=RecordFields)
    files: tuple[str, ...] = ()

    @classmethod
    def of_path(cls, path: Path, tenant: str, jurisdiction: str) -> Source:
        """A folder as it is, or one file as a source narrowed to it within its folder, so
        its document id is the same as when the whole folder is ingested."""
        if path.is_file():
            return cls(path.parent, tenant, jurisdiction, files=(path.name,))
        return cls(path, tenant, jurisdiction)

    def covers(self, rel: str, key: bytes | None = None) -> bool:
        """Whether `rel` is one of `files`; with the tenant's `key`, `rel` is as a document
        id holds it (redacted)."""
        return not self.files or rel in {redact_identifier(f, key).text if key else f for f in self.files}


@dataclass
class IngestReport:
    files: int = 0
    published: list[DocumentEvent] = field(default_factory=list)
    unchanged: int = 0
    deleted: int = 0
    held: int = 0  # documents held back by a delete request
    cached: int = 0  # files counted unchanged from the scan cache, without parsing
    dead_letters: list[DeadLetter] = field(default_factory=list)


# A file: its path, its path under the root (POSIX), why it must not be read, its stat.
Found = tuple[str, str, str | None, os.stat_result | None]


def walk(root: Path, unreadable: list[tuple[Path, str]] | None = None) -> Iterator[Found]:
    """Every file under `root` (hidden ones aside; a folder's files before its folders,
    each in name order), with a reason when it must not be read (a symlink that leads
    outside the root, or something that is not a regular file: a FIFO would block the
    read forever) or else its stat. Symlinked folders are not entered. Folders that
    cannot be listed are added to `unreadable` with the reason: their documents are not
    gone, only out of sight. One `scandir` per folder and one stat per file, with no
    path object per file: a scan walks every file it holds."""
    stack = [(os.fspath(root), "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted((e for e in listing if not e.name.startswith(".")), key=lambda e: e.name)
        except OSError as exc:
            if unreadable is not None:
                unreadable.append((Path(folder), exc.strerror or type(exc).__name__))
            continue
        folders = []
        for entry in entries:
            try:
                is_dir = entry.is_dir()  # follows a symlink, as os.walk does: a linked folder is not a file
            except OSError:
                is_dir = False
            if is_dir:
                if not entry.is_symlink():
                    folders.append((entry.path, f"{prefix}{entry.name}/"))
                continue
            yield entry.path, prefix + entry.name, *entry_problem(root, entry)
        stack.extend(reversed(folders))


def entry_problem(root: Path, entry: os.DirEntry[str]) -> tuple[str | None, os.stat_result | None]:
    """Why a listed file must not be read, or None and its stat (taken before reading it:
    a later write moves it)."""
    if entry.is_symlink():
        return file_problem(root, Path(entry.path))
    try:
        st = entry.stat()
    except OSError as exc:
        return f"cannot be read ({exc.strerror}); check it and its permissions", None
    return regular(st)


def file_problem(root: Path, path: Path) -> tuple[str | None, os.stat_result | None]:
    """Why `path` must not be read, or None and its stat."""
    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(root):
            return f"symlink to {target}, outside the source root {root}; it is not followed", None
    try:
        st = path.stat()
    except OSError as exc:
        return f"cannot be read ({exc.strerror}); check it and its permissions", None
    return regular(st)


def regular(st: os.stat_result) -> tuple[str | None, os.stat_result | None]:
    if not stat.S_ISREG(st.st_mode):
        kind = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a character device",
                stat.S_IFBLK: "a block device"}.get(stat.S_IFMT(st.st_mode), "not a regular file")
        return f"{kind}, not a regular file; only regular files are read (move it out of the source folder)", None
    return None, st


def walk_files(root: Path, files: tuple[str, ...]) -> Iterator[Found]:
    """The named files under `root` that exist, like `walk` yields them."""
    for rel in sorted(set(files)):
        path = root / rel
        if path.exists() or path.is_symlink():
            yield os.fspath(path), path.relative_to(root).as_posix(), *file_problem(root, path)


def document_id(tenant: str, rel: str, part: str) -> str:
    return f"{tenant}:{rel}" + (f"#{part}" if part else "")


def file_uri(root: Path, rel: str, part: str = "") -> str:
    """The source URI of a (redacted) file path and record id under `root`: what
    `(root / rel).as_uri()` gives for a relative path as a walk yields it, without
    building a path per file (a scan names every file it holds)."""
    base = root_uri(root)
    return f"{base}{'' if base.endswith('/') else '/'}{quote_from_bytes(os.fsencode(rel))}" + (
        f"#{part}" if part else "")


@functools.lru_cache(maxsize=256)
def root_uri(root: Path) -> str:
    return root.as_uri()


def read_source_file(path: str, rel: str, limits: Limits, problem: str | None) -> bytes:
    if problem:
        raise SourceError(f"{rel}: {problem}")
    try:
        # Non-blocking: a file swapped for a FIFO since its stat must not hang the scan.
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise SourceError(f"{rel}: {regular(st)[0]}")
            limits.check(rel, "file size in bytes", st.st_size, "max_file_bytes")  # before reading it
            return fh.read()
    except OSError as exc:
        raise SourceError(f"{rel}: cannot be read ({exc.strerror}); check its permissions") from exc


def scan(source: Source, policy: ResidencyPolicy, lake: Lake, *, limits: Limits | None = None,
         privacy: PrivacyPolicy | None = None, secret: bytes = b"", cache_dir: Path | None = None,
         run_id: str = "", claimed: dict[str, str] | None = None, raw: RawView | None = None) -> IngestReport:
    """Decide which events the source needs: new versions, deletes, dead letters.
    Personal data is redacted here, at the edge, before anything is published.
    `cache_dir` holds the scan cache, which spares parsing files that did not change.
    `claimed` (document id -> file URI), shared by the scans of one run, keeps two
    sources of a tenant from giving one document id two files. `raw`, when given, is
    what the raw lake holds (refreshed by the caller), instead of asking it."""
    claimed = {} if claimed is None else claimed
    limits = limits or Limits()
    privacy = privacy or PrivacyPolicy()
    root = source.root.resolve()
    if not root.is_dir():
        raise SourceError(f"{source.root}: no such folder or file; pass a folder of documents (or files) to ingest")
    region = policy.home_region(source.jurisdiction)
    root_uri = root.as_uri()
    key = tenant_key(secret, source.tenant)
    # Every document of the tenant, whichever folder last held it: versions count per
    # document, so a moved folder continues them and two folders cannot share one id.
    latest = raw.latest_versions(source.tenant) if raw is not None else latest_versions(lake, source.tenant)
    erased = raw.erased_subjects(source.tenant) if raw is not None else erased_subjects(lake, source.tenant)
    cache = None if cache_dir is None else ScanCache.open(
        cache_dir, root_uri=root_uri, tenant=source.tenant, key=key, context=context_fingerprint(
            parser=PARSER_VERSION, tenant=source.tenant, jurisdiction=source.jurisdiction, region=region,
            root=root_uri, fields=repr(source.fields), limits=limits.model_dump(), privacy=privacy.fingerprint,
            secret=secret_fingerprint(secret)))
    report = IngestReport()
    common = {"tenant": source.tenant, "jurisdiction": source.jurisdiction, "region": region,
              "source_root": root_uri}
    present: set[str] = set()
    walked: set[str] = set()
    unreadable: list[tuple[Path, str]] = []

    def cached(entry: FileEntry) -> bool:
        """Count the file unchanged when the lake still holds what the cache says it made."""
        if not all(is_latest_upsert(latest.get(doc_id), content, root_uri) for doc_id, content in entry.docs):
            return False
        present.update(doc_id for doc_id, _ in entry.docs)
        base, uri = document_id(source.tenant, entry.rid, ""), file_uri(root, entry.rid)
        claimed.update((doc_id, uri + doc_id[len(base):]) for doc_id, _ in entry.docs)
        report.unchanged += len(entry.docs)
        report.cached += 1
        return True

    for path, rel, problem, before in walk(root, unreadable) if not source.files else walk_files(root, source.files):
        seen_ns = time.time_ns()  # just after `before` was taken: whether it was settled is judged then
        report.files += 1
        token = cache.token(rel) if cache is not None else ""
        walked.add(token)
        entry = cache.get(token) if cache is not None else None
        if entry is not None and before is not None and entry.vouches(before) and cached(entry):
            continue  # not read, not redacted: its stat signature vouches for its bytes
        named = redact_identifier(rel, key)  # what ids, URIs and the cache hold of the path
        rid = named.text
        data = b""
        digest = ""
        try:
            data = read_source_file(path, rel, limits, problem)
            if cache is not None:
                digest = hashlib.sha256(data).hexdigest()
                if entry is not None and entry.sha256 == digest and cached(entry):
                    if before is not None:  # the same bytes: remember the signature it has now
                        cache.put(token, FileEntry(rid, signature(before), settled(before, seen_ns), digest,
                                                         entry.docs))
                    continue
            docs: list[Parsed] = parse(rel, data, limits=limits, fields=source.fields)
        except SourceError as exc:
            if erased and erased & (named.subjects | subjects_in(data.decode("utf-8", "replace"), key)):
                # Bytes naming an erased subject are not kept, not even as a dead letter.
                log.info("%s: held back, it names an erased data subject", rid)
                report.held += 1
            else:
                report.dead_letters.append(dead_letter(exc, file_uri(root, rid), data, lake, source, region, key))
            # A file that fails now keeps its earlier versions: no delete for it.
            present.update(d for d in latest if d == document_id(source.tenant, rid, "")
                           or d.startswith(document_id(source.tenant, rid, "") + "#"))
            if cache is not None:
                cache.forget(token)
            continue
        produced: list[tuple[str, str]] = []
        parts: Counter[str] = Counter()
        clean = True  # a file that dead-letters a document is parsed again next time, so its letter is too
        for doc in docs:
            part = redact_identifier(doc.part, key)
            # Two record ids that differ only where redaction hashed them stay two documents.
            parts[part.text] += 1
            suffix = f"~{parts[part.text]}" if parts[part.text] > 1 else ""
            doc_id = document_id(source.tenant, rid, part.text + suffix)
            present.add(doc_id)
            prev = latest.get(doc_id)
            uri = file_uri(root, rid, part.text + suffix)
            event = DocumentEvent.new(
                op="upsert", document_id=doc_id, version=(prev.version + 1) if prev else 1,
                text=doc.text, title=doc.title, format=doc.format, metadata=doc.metadata,
                source_uri=uri, parser=PARSER_VERSION, privacy=privacy.fingerprint, run_id=run_id,
                pii=dict(Counter(named.counts) + Counter(part.counts)), subjects=sorted(named.subjects | part.subjects),
                **common)
            try:
                event = apply_privacy(event, privacy, secret)
            except DropDocument as exc:
                report.dead_letters.append(dead_letter(SourceError(f"{rel}: {exc}"), file_uri(root, rid), b"", lake,
                                                       source, region, key))
                clean = False
                continue
            produced.append((doc_id, event.content_hash))
            first = claimed.get(doc_id, uri)
            owner = first if first != uri else held_elsewhere(prev, root_uri, rel)
            if owner:
                report.dead_letters.append(dead_letter(SourceError(
                    f"{rel}: document {doc_id} is already {owner}, a file of another source of tenant "
                    f"{source.tenant}; give the two sources distinct folder layouts or tenants, or remove one copy"),
                    file_uri(root, rid), b"", lake, source, region, key))
                clean = False
                continue
            claimed[doc_id] = uri
            if is_latest_upsert(prev, event.content_hash, root_uri):
                report.unchanged += 1
                continue
            if held_back(prev, event, erased):
                log.info("%s: held back, its deletion was requested", uri)
                report.held += 1
                continue
            report.published.append(event)
        if cache is not None:
            if clean and digest and before is not None:
                cache.put(token, FileEntry(rid, signature(before), settled(before, seen_ns), digest,
                                                 tuple(produced)))
            else:  # a file that did not parse cleanly is read again next time
                cache.forget(token)
    if cache is not None:
        if not source.files:  # a narrowed source saw only its files
            cache.retain(walked)
        cache.save()
    # Folders as document ids hold them (redacted), for the prefix test below.
    hidden = {folder: redact_identifier(folder.relative_to(root).as_posix(), key).text
              for folder, _ in unreadable if folder != root}
    for folder, reason in unreadable:
        # An access error must never delete data: the folder's documents stay as they were.
        log.warning("%s: cannot be listed (%s); its documents are kept as they were", folder, reason)
        if folder == root:
            raise SourceError(f"{source.root}: the folder cannot be listed ({reason}); check its permissions")
        report.dead_letters.append(dead_letter(SourceError(f"{folder.relative_to(root).as_posix()}/: the folder "
                                                           f"cannot be listed ({reason}); its documents are kept as "
                                                           "they were until it can be read again"),
                                               file_uri(root, hidden[folder]), b"", lake, source, region, key))
    for doc_id in sorted(latest):
        prev = latest[doc_id]
        rel, _, record = doc_id.split(":", 1)[1].partition("#")
        if prev.source_root != root_uri or any(rel.startswith(h + "/") for h in hidden.values()):
            continue  # another folder's document, or one out of sight
        if doc_id not in present and prev.op == "upsert" and source.covers(rel, key):
            report.published.append(DocumentEvent.new(
                op="delete", document_id=doc_id, version=prev.version + 1, run_id=run_id,
                source_uri=file_uri(root, rel, record), **common))
            report.deleted += 1
    return report


def is_latest_upsert(prev: LatestVersion | None, content: str, root_uri: str) -> bool:
    """Whether the raw lake's latest version of a document is an upsert of this content
    from this folder (a moved folder republishes once: its citations change)."""
    return prev is not None and prev.op == "upsert" and prev.content_hash == content and prev.source_root == root_uri


def held_elsewhere(prev: LatestVersion | None, root_uri: str, rel: str) -> str:
    """The file of another, still present folder that holds this document id, or ""."""
    if prev is None or prev.source_root == root_uri or prev.op != "upsert" or not isinstance(prev.source_root, str):
        return ""
    other = Path(url2pathname(urlparse(prev.source_root).path)) / rel
    return other.as_uri() if other.is_file() else ""


def held_back(prev: LatestVersion | None, event: DocumentEvent, erased: set[str]) -> bool:
    """Whether a delete request still covers this document: it names an erased
    subject, or it was deleted on request and its text has not changed since."""
    if erased.intersection(event.subjects):
        return True
    # A requested delete carries the hash of what it deleted (the upserts may be erased).
    return prev is not None and prev.op == "delete" and bool(prev.requested) and \
        event.content_hash in (prev.content_hash, prev.upsert_hash)


def dead_letter(exc: SourceError, uri: str, data: bytes, lake: Lake, source: Source, region: str,
                key: bytes) -> DeadLetter:
    """A dead letter for a file (its URI redacted), with a copy of its bytes kept in its
    region; the reason names paths, so its personal data is hashed like theirs."""
    digest = hashlib.sha256(data).hexdigest() if data else ""
    original = lake.store_blob(region, source.tenant, data) if data else ""
    reason = redact_identifier(str(exc), key).text
    return DeadLetter.new(stage="ingest", error=exc, source_uri=uri, key=digest or reason,
                          source_root=source.root.resolve().as_uri(), tenant=source.tenant,
                          jurisdiction=source.jurisdiction, region=region, original_uri=original,
                          content_sha256=digest).model_copy(update={"reason": reason})


def publish(conn: KafkaConnection, events: list[DocumentEvent], letters: list[DeadLetter], *,
            vouch: Callable[[bytes], None] | None = None) -> None:
    """Publish and wait for every acknowledgement: an event counts once acknowledged.
    Each event is encoded as it is sent; `vouch` hears the bytes of each (redacted) event."""
    def records() -> Iterator[tuple[str, bytes, bytes]]:
        for e in events:
            value = e.to_json()
            if vouch is not None:
                vouch(value)
            yield conn.settings.raw_topic, e.document_id.encode(), value
        for d in letters:
            yield conn.settings.dead_letter_topic, d.dead_letter_id.encode(), d.to_json()

    conn.produce(records())
    if events or letters:
        log.info("published %d events and %d dead letters", len(events), len(letters))
