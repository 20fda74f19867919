"""The file source: walk a folder, parse each file, publish document events.

Only what changed is published: a document whose text equals its latest version in
the raw lake is skipped, and a document the lake knows under this source root but
the folder no longer holds gets a delete event. Versions count up per document.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from governance.contracts import DeadLetter, DocumentEvent, content_hash
from governance.residency import ResidencyPolicy
from ingest.errors import SourceError
from ingest.kafka import KafkaConnection
from ingest.lake import Lake
from ingest.parsers import FORMATS, Parsed, parse
from ingest.tables import RAW

log = logging.getLogger(__name__)

LATEST_SQL = """
SELECT document_id, version, op, content_hash
FROM raw
WHERE tenant = ? AND source_root = ?
QUALIFY row_number() OVER (PARTITION BY document_id ORDER BY version DESC) = 1
"""


@dataclass(frozen=True)
class Source:
    """A folder of documents that belongs to one tenant and one jurisdiction."""

    root: Path
    tenant: str
    jurisdiction: str


@dataclass
class IngestReport:
    files: int = 0
    published: list[DocumentEvent] = field(default_factory=list)
    unchanged: int = 0
    deleted: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)

    @property
    def event_ids(self) -> list[str]:
        return [e.event_id for e in self.published]


def walk(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in FORMATS:
            yield path


def document_id(tenant: str, rel: str, part: str) -> str:
    return f"{tenant}:{rel}" + (f"#{part}" if part else "")


def scan(source: Source, policy: ResidencyPolicy, lake: Lake) -> IngestReport:
    """Decide which events the source needs: new versions, deletes, dead letters."""
    root = source.root.resolve()
    if not root.is_dir():
        raise SourceError(f"{source.root}: no such folder; pass a folder of documents to ingest")
    region = policy.home_region(source.jurisdiction)
    root_uri = root.as_uri()
    con = lake.connect(RAW)
    latest = {r[0]: r[1:] for r in con.execute(LATEST_SQL, [source.tenant, root_uri]).fetchall()}
    con.close()
    report = IngestReport()
    common = {"tenant": source.tenant, "jurisdiction": source.jurisdiction, "region": region,
              "source_root": root_uri}
    present: set[str] = set()
    for path in walk(root):
        report.files += 1
        rel = path.relative_to(root).as_posix()
        data = path.read_bytes()
        try:
            docs: list[Parsed] = parse(rel, data)
        except SourceError as exc:
            report.dead_letters.append(DeadLetter.new(
                stage="ingest", error=exc, source_uri=path.as_uri(),
                key=content_hash(data.decode("latin-1")), tenant=source.tenant,
                jurisdiction=source.jurisdiction, region=region))
            present.update(d for d in latest if d == document_id(source.tenant, rel, "")
                           or d.startswith(document_id(source.tenant, rel, "") + "#"))
            continue
        for doc in docs:
            doc_id = document_id(source.tenant, rel, doc.part)
            present.add(doc_id)
            prev = latest.get(doc_id)
            if prev and prev[1] == "upsert" and prev[2] == content_hash(doc.text):
                report.unchanged += 1
                continue
            uri = path.as_uri() + (f"#{doc.part}" if doc.part else "")
            report.published.append(DocumentEvent.new(
                op="upsert", document_id=doc_id, version=(prev[0] + 1) if prev else 1,
                text=doc.text, title=doc.title, format=doc.format, metadata=doc.metadata,
                source_uri=uri, **common))
    for doc_id, (version, op, _) in sorted(latest.items()):
        if doc_id not in present and op == "upsert":
            rel = doc_id.split(":", 1)[1]
            report.published.append(DocumentEvent.new(
                op="delete", document_id=doc_id, version=version + 1,
                source_uri=(root / rel.split("#")[0]).as_uri() + ("#" + rel.split("#", 1)[1] if "#" in rel else ""),
                **common))
            report.deleted += 1
    return report


def publish(conn: KafkaConnection, events: list[DocumentEvent], letters: list[DeadLetter]) -> None:
    """Publish and wait for every acknowledgement: an event counts once acknowledged."""
    producer = conn.producer()
    try:
        futures = [producer.send(conn.settings.raw_topic, key=e.document_id.encode(), value=e.to_json())
                   for e in events]
        futures += [producer.send(conn.settings.dead_letter_topic, key=d.dead_letter_id.encode(),
                                  value=d.to_json()) for d in letters]
        producer.flush()
        for fut in futures:
            fut.get(timeout=30)
    finally:
        producer.close()
    if events or letters:
        log.info("published %d events and %d dead letters", len(events), len(letters))
