"""What the factory holds, measured for its checks: schema drift, freshness,
duplicates, chunk quality, PII past redaction, index completeness. Each function
reads the lake (and the index) and returns what it found; whether that passes, and
how badly it fails, is the caller's call (assets/checks.py). Residency is measured
by residency_report.py."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

from governance.pii import detect
from ingest import raw_table
from ingest.lake import TableSpec
from ingest.lake_reads import repeated_keys
from ingest.tables import RAW
from pipeline.factory import Factory
from transforms.tables import CHUNKS
from vectorstore.sync import current_chunks, plan

MIN_CHUNK_CHARS = 12  # a chunk with less text is empty
BOILERPLATE_MIN_DOCUMENTS = 3  # the same chunk text in this many documents of a tenant is boilerplate

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class SchemaDrift:
    files: int
    wrong: dict[str, list[str]]  # file (relative to the lake) -> columns of another type, or unknown
    missing: dict[str, list[str]]  # file -> contract columns it lacks (read as null)


def schema_drift(factory: Factory, spec: TableSpec) -> SchemaDrift:
    expected = {fld.name: fld.type for fld in spec.schema}
    missing: dict[str, list[str]] = {}
    wrong: dict[str, list[str]] = {}
    files = factory.lake.files(spec)
    for rel in files:
        actual = factory.lake.read_schema(rel)
        gone = sorted(set(expected) - set(actual.names))
        bad = sorted(f"{fld.name}: {fld.type} (expected {expected.get(fld.name, 'no such column')})"
                     for fld in actual if fld.name not in expected or not fld.type.equals(expected[fld.name]))
        if gone:
            missing[rel] = gone
        if bad:
            wrong[rel] = bad
    return SchemaDrift(files=len(files), wrong=wrong, missing=missing)


def newest_landed(factory: Factory) -> datetime | None:
    """When the raw lake last landed a row; None when it is empty."""
    return raw_table.newest_landed(factory.lake)


@dataclass(frozen=True)
class Duplicates:
    repeated: dict[str, int]  # table -> rows whose key is stored twice (exactly-once broken)
    current: int  # current chunks
    folded: int  # current chunks folded into another chunk's point

    @property
    def ratio(self) -> float:
        return self.folded / self.current if self.current else 0.0


def duplicates(factory: Factory) -> Duplicates:
    repeated: dict[str, int] = {}
    for spec in (RAW, CHUNKS):
        if factory.lake.files(spec):
            repeated[spec.name] = repeated_keys(factory.lake, spec)
    current = len(current_chunks(factory.lake))
    return Duplicates(repeated=repeated, current=current,
                      folded=plan(factory.lake, "any").duplicates if current else 0)


@dataclass(frozen=True)
class ChunkQuality:
    current: int
    empty: list[str]  # chunk ids of chunks under MIN_CHUNK_CHARS
    boilerplate: dict[str, int]  # the first 80 characters of a repeated text -> documents holding it

    @property
    def boilerplate_ratio(self) -> float:
        return sum(self.boilerplate.values()) / self.current if self.current else 0.0


def chunk_quality(factory: Factory) -> ChunkQuality:
    chunks = current_chunks(factory.lake)
    empty = [c.chunk_id for c in chunks if len(c.text.strip()) < MIN_CHUNK_CHARS]
    documents: dict[tuple[str, str], set[str]] = defaultdict(set)
    for c in chunks:
        documents[(c.tenant, _SPACE.sub(" ", c.text.strip().lower()))].add(c.document_id)
    boiler = {text[:80]: len(docs) for (_, text), docs in documents.items()
              if len(docs) >= BOILERPLATE_MIN_DOCUMENTS and text}
    return ChunkQuality(current=len(chunks), empty=empty, boilerplate=boiler)


@dataclass(frozen=True)
class PiiFinding:
    chunk_id: str
    tenant: str
    kind: str
    source_uri: str


@dataclass(frozen=True)
class PiiLeaks:
    scanned: int
    leaks: dict[str, int]  # kind -> findings
    sample: list[PiiFinding]


def pii_leaks(factory: Factory, *, sample: int = 10) -> PiiLeaks:
    """The PII detectors on every current chunk: a finding of a kind the tenant's
    privacy policy does not keep is a leak past redaction."""
    leaks: Counter[str] = Counter()
    found: list[PiiFinding] = []
    chunks = current_chunks(factory.lake)
    for c in chunks:
        keep = {k for k, mode in factory.privacy.modes(c.tenant, c.jurisdiction).items() if mode == "keep"}
        for finding in detect(c.text):
            if finding.kind in keep:
                continue
            leaks[finding.kind] += 1
            if len(found) < sample:
                found.append(PiiFinding(c.chunk_id, c.tenant, finding.kind, c.source_uri))
    return PiiLeaks(scanned=len(chunks), leaks=dict(leaks), sample=found)


@dataclass(frozen=True)
class Partition:
    chunks: int  # points the lake's current chunks call for
    points: int  # of those, in the index
    missing: int


@dataclass(frozen=True)
class Completeness:
    """For the active model (None: no index yet, `unindexed` current chunks wait for
    one), per `region/tenant`, the points the lake calls for against the index."""

    model: str | None
    unindexed: int
    partitions: dict[str, Partition]
    missing: int
    extra: int


def index_completeness(factory: Factory) -> Completeness:
    index = factory.index_without_model()
    if index is None:
        return Completeness(model=None, unindexed=len(current_chunks(factory.lake)), partitions={}, missing=0,
                            extra=0)
    desired = plan(factory.lake, index.model_id)
    partitions: dict[str, Partition] = {}
    missing_total = extra_total = 0
    for region in sorted(set(desired.points) | set(index.regions())):
        present = index.ids(region) if region in index.regions() else set()
        want = desired.region(region)
        for tenant in sorted({body["tenant"] for _, body in want.values()}):
            ids = {pid for pid, (_, body) in want.items() if body["tenant"] == tenant}
            missing = len(ids - present)
            partitions[f"{region}/{tenant}"] = Partition(chunks=len(ids), points=len(ids & present), missing=missing)
            missing_total += missing
        extra = len(present - set(want))
        if extra:
            partitions[f"{region}/(not in lake)"] = Partition(chunks=0, points=extra, missing=0)
            extra_total += extra
    return Completeness(model=index.model_id, unindexed=0, partitions=partitions, missing=missing_total,
                        extra=extra_total)
