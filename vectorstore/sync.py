"""Index synchronisation: make the index hold exactly what the chunk lake says.

The desired state is every chunk of each document's latest version (nothing for
a document whose latest record is a tombstone), one point per family of exact or
near-duplicate chunks within a tenant: the first chunk of the family is indexed
and the payload lists the others. Point ids are derived from the chunk and the
model, so the difference between desired and present ids is the whole plan:
embed and upsert what is missing, delete what is extra, rewrite the payload of a
point whose digest changed (same content, newer version or other duplicates).
Killed at any moment and run again, it converges to the same index.

`plan` reads the whole chunks lake. `LivePlan` (resident mode) holds the same
plan in memory and keeps it in step by reading only the lake files that appeared
since, recomputing duplicate families only for the tenants they touch; the index
side is still compared in full.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from governance.carbon import CarbonProfile, footprint
from governance.contracts import point_id
from governance.ledger import Ledger, UsageEntry
from governance.releases import Release, Releases
from ingest.lake import Lake
from transforms import chunk_table
from transforms.chunk_table import ChunkRow
from transforms.dedup import families, reader_key
from transforms.tables import CHUNKS
from transforms.tokens import token_counter
from vectorstore.ahead import EmbedAhead, embedding_text
from vectorstore.batching import prefetch
from vectorstore.embedder import Embedder
from vectorstore.index import IndexPoint, VectorIndex
from vectorstore.sparse import document_vector

log = logging.getLogger(__name__)

EMBED_BATCH = int(os.environ.get("AIFACTORY_EMBED_BATCH", "256"))  # texts embedded and upserted at a time

Row = ChunkRow
Points = dict[str, tuple[Row, dict[str, Any]]]  # point id -> (the chunk row it is written from, its payload)
Released = Mapping[tuple[str, str], Release]  # (tenant, chunk id) -> a reviewer's release (governance/releases.py)


@dataclass(frozen=True)
class ComputeRegion:
    """Where this process embeds, and which chunks it may therefore embed (residency of compute)."""

    region: str
    allows: Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class Narrow:
    """A sync of some documents' duplicate families only: the points of `documents`, and of
    each chunk of those families that could head one ((region, tenant) -> point ids)."""

    documents: frozenset[str]
    candidates: dict[tuple[str, str], set[str]]

    @classmethod
    def of(cls, rows: Iterable[Row], documents: Collection[str], model_id: str) -> Narrow:
        candidates: dict[tuple[str, str], set[str]] = defaultdict(set)
        for row in rows:
            candidates[(row["region"], row["tenant"])].add(point_id(row["chunk_id"], model_id))
        return cls(frozenset(documents), dict(candidates))


@dataclass
class SyncReport:
    upserted: int = 0
    deleted: int = 0
    repointed: int = 0  # kept their vector, got a new payload (newer version, other duplicates)
    duplicates: int = 0  # current chunks folded into another chunk's point
    unchanged: int = 0
    # The work a sync did, which should follow the change, not the corpus:
    planned: int = 0  # current chunk rows it compared (from the lake, or a kept plan)
    digests_read: int = 0  # point digests it read from the index
    embed_seconds: float = 0.0
    embedded_ahead: int = 0  # upserted vectors taken from an EmbedAhead, not embedded by the sync
    by_region: dict[str, int] = field(default_factory=dict)
    # (tenant, jurisdiction) -> chunks left unembedded: this process's compute region may not process them
    refused: Counter[tuple[str, str]] = field(default_factory=Counter)
    refused_ids: set[str] = field(default_factory=set)


def payload(row: dict[str, Any], model_id: str, duplicates: list[dict[str, Any]],
            release: Release | None = None) -> dict[str, Any]:
    """What a point carries: enough to cite it, filter it and trace it back to its event. A
    quarantined chunk a reviewer released is searchable, with the screener's reasons kept."""
    released = bool(row["quarantined"]) and release is not None
    body = {
        "tenant": row["tenant"], "jurisdiction": row["jurisdiction"], "region": row["region"],
        "document_id": row["document_id"], "version": row["version"], "chunk_no": row["chunk_no"],
        "chunk_id": row["chunk_id"], "row_id": row["row_id"], "event_id": row["event_id"],
        "title": row["title"], "text": row["text"], "source_uri": row["source_uri"],
        "section": row["section"], "page": row["page"], "event_time": row["event_time"].isoformat(),
        "chunker": row["chunker"], "screener": row["screener"],
        "quarantined": bool(row["quarantined"]) and not released,
        "screening": "released" if released else "quarantined" if row["quarantined"] else "clear",
        "screening_reasons": json.loads(row["screening_reasons"] or "[]"),
        "pii": json.loads(row["pii"] or "{}"),
        "topic": row["raw_topic"], "partition": row["raw_partition"], "offset": row["raw_offset"],
        "log_epoch": row["raw_epoch"], "model": model_id, "duplicates": duplicates,
        # Every document this point speaks for: a filter on document_id matches any of them.
        "document_ids": sorted({row["document_id"], *(d["document_id"] for d in duplicates)}),
    }
    if released and release is not None:
        body["release"] = release.note()
    body["digest"] = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return body


@dataclass
class Plan:
    """region -> point id -> (the chunk row it is written from, its payload)."""

    points: dict[str, Points]
    duplicates: int  # current chunks folded into another chunk's point
    groups: dict[tuple[str, str], Points] = field(default_factory=dict)  # (region, tenant) -> its points
    folded: dict[str, int] = field(default_factory=dict)  # tenant -> its chunks folded into another's point

    def region(self, region: str) -> Points:
        return self.points.get(region, {})

    def group(self, region: str, tenant: str) -> Points:
        return self.groups.get((region, tenant), {})


def _family_points(rows: Iterable[Row], model_id: str, memo: dict[tuple[str, ...], tuple[str, dict[str, Any]]],
                   released: Released | None = None
                   ) -> tuple[Points, int, dict[tuple[str, ...], tuple[str, dict[str, Any]]]]:
    """The points of one tenant's current chunks in one region: one per family of
    exact or near duplicates. `memo` holds payloads of families seen before, by the
    row ids of their members (rows never change under a row id) and the release in force.
    A family is released when a reviewer released any of its chunks (the same text)."""
    points: Points = {}
    folded = 0
    used: dict[tuple[str, ...], tuple[str, dict[str, Any]]] = {}
    # Only chunks the same to a reader share a point (transforms/dedup.py explains why not near ones).
    for family in families(rows, exact=lambda r: r.get("reader_key") or reader_key(r["text"]), fingerprint=None,
                           order=lambda r: (r["document_id"], r["chunk_no"])):
        head, rest = family[0], family[1:]
        release = next((got for r in family if (got := (released or {}).get((r["tenant"], r["chunk_id"])))), None)
        key = (*(r["row_id"] for r in family), release.at if release else "")
        if key not in memo:
            dups = [{"document_id": r["document_id"], "chunk_id": r["chunk_id"], "source_uri": r["source_uri"],
                     "title": r["title"], "section": r["section"], "page": r["page"],
                     "kind": "exact" if r["content_hash"] == head["content_hash"] else "same words"} for r in rest]
            memo[key] = (point_id(head["chunk_id"], model_id), payload(head, model_id, dups, release))
        pid, body = used[key] = memo[key]
        points[pid] = (head, body)
        folded += len(rest)
    return points, folded, used


@dataclass(frozen=True)
class CurrentChunk:
    """A chunk of a document's latest version: what the index should hold (before
    duplicates fold), as much of it as a reader outside this module needs."""

    chunk_id: str
    document_id: str
    tenant: str
    jurisdiction: str
    source_uri: str
    text: str


def current_chunks(lake: Lake) -> list[CurrentChunk]:
    """Every chunk of each document's latest version, by document and chunk number."""
    if not lake.files(CHUNKS):
        return []
    rows = chunk_table.current_rows(lake)
    return [CurrentChunk(chunk_id=r["chunk_id"], document_id=r["document_id"], tenant=r["tenant"],
                         jurisdiction=r["jurisdiction"], source_uri=r["source_uri"], text=r["text"] or "")
            for r in rows]


def plan(lake: Lake, model_id: str, files: Collection[str] | None = None, released: Released | None = None) -> Plan:
    """The points the index should hold for the chunks lake (for `files` only, when given:
    they must hold every version of each of their documents)."""
    return plan_rows(chunk_table.current_rows(lake, files), model_id, released)


def plan_rows(rows: Iterable[Row], model_id: str, released: Released | None = None) -> Plan:
    """The points the index should hold for these current chunk rows (whole duplicate families)."""
    groups: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in rows:
        groups[(row["region"], row["tenant"])].append(row)
    points: dict[str, Points] = defaultdict(dict)
    by_group: dict[tuple[str, str], Points] = {}
    folded: dict[str, int] = defaultdict(int)
    for group, rows in groups.items():
        by_group[group], group_folded, _ = _family_points(rows, model_id, {}, released)
        points[group[0]].update(by_group[group])
        folded[group[1]] += group_folded
    return Plan(points, sum(folded.values()), by_group, dict(folded))


class LivePlan:
    """The plan of `plan`, kept in memory and brought up to date by reading only
    the chunks-lake files that appeared since the last refresh. Lake files are
    written once under a name of their own and never change; a file that went away
    (the table was rebuilt) means a full re-plan. Each document keeps the rows of
    its latest version, as `chunk_table.current_rows` selects them.

    `pending` is what a sync must look at in the index: the (region, tenant) groups
    touched since the last `synced()`, or None (everything) after a full read;
    `narrowed()` says the same by document: the changed documents' duplicate families."""

    def __init__(self, lake: Lake, model_id: str, releases: Releases | None = None) -> None:
        self.lake, self.model_id, self.releases = lake, model_id, releases
        self.released: Released = {}
        self.releases_at = 0  # the size of the releases file as of the last refresh
        self.pending: set[tuple[str, str]] | None = None
        self._docs: set[str] = set()  # documents with new rows since the last sync
        self._keys: set[tuple[str, str, str]] = set()  # (region, tenant, reader key) of their old and new rows
        self._unkeyed = False  # a row without a reader key (an old lake) was touched: no narrowing
        self._by_key: dict[tuple[str, str, str], set[str]] = defaultdict(set)  # -> documents holding it now
        self._files: set[str] | None = None
        self._versions: dict[str, int] = {}  # document id -> latest version (tombstones too)
        self._rows: dict[str, dict[str, Row]] = {}  # document id -> row id -> upsert row of that version
        self._members: dict[tuple[str, str], set[str]] = defaultdict(set)  # (region, tenant) -> document ids
        self._groups: dict[tuple[str, str], tuple[Points, int]] = {}
        self._memo: dict[tuple[str, str], dict[tuple[str, ...], tuple[str, dict[str, Any]]]] = {}
        self._plan = Plan({}, 0)

    def refresh(self) -> tuple[Plan, bool]:
        """The current plan, and whether it may differ from the previous one."""
        files = set(self.lake.files(CHUNKS))
        reviewed = self._reviewed()
        if self._files is None or not self._files <= files:
            self._load(files)
            return self._plan, True
        new = files - self._files
        if not new:
            if reviewed:
                self._apply_reviews(reviewed)
            return self._plan, bool(reviewed)
        rows = chunk_table.rows_of(self.lake, new)
        touched: set[tuple[str, str]] = set()  # (region, tenant) groups whose families may have changed
        for row in rows:
            doc, version = row["document_id"], row["version"]
            self._docs.add(doc)
            if version > self._versions.get(doc, 0):  # a newer version (or a tombstone) replaces the rows
                self._versions[doc] = version
                for old in self._rows.pop(doc, {}).values():
                    self._members[(old["region"], old["tenant"])].discard(doc)
                    touched.add((old["region"], old["tenant"]))
                    self._by_key[_family_key(old)].discard(doc)
                    self._touch_key(old)
            if version == self._versions[doc] and row["op"] == "upsert":
                group = (row["region"], row["tenant"])
                self._rows.setdefault(doc, {})[row["row_id"]] = row
                self._members[group].add(doc)
                self._by_key[_family_key(row)].add(doc)
                touched.add(group)
        # Every current row of a changed document, not only the new ones: one version's chunks
        # can land in two flushes, and a narrowed sync reads all the document's points.
        for doc in {row["document_id"] for row in rows}:
            for held in self._rows.get(doc, {}).values():
                self._touch_key(held)
        self._files |= new
        if self.pending is not None:
            self.pending |= touched
        self._rebuild(touched)
        if reviewed:
            self._apply_reviews(reviewed)
        return self._plan, True

    def _reviewed(self) -> set[tuple[str, str]]:
        """The (tenant, chunk id) pairs whose release changed since the last refresh."""
        size = self.releases.size() if self.releases is not None else 0
        if self.releases is None or size == self.releases_at:
            return set()
        before, self.released, self.releases_at = self.released, dict(self.releases.current()), size
        return {k for k in before.keys() | self.released.keys() if before.get(k) != self.released.get(k)}

    def _apply_reviews(self, reviewed: set[tuple[str, str]]) -> None:
        """Plan again the families of chunks released or held since (rare: a person's review)."""
        touched: set[tuple[str, str]] = set()
        for doc, held in self._rows.items():
            for row in held.values():
                if (row["tenant"], row["chunk_id"]) in reviewed:
                    self._docs.add(doc)
                    touched.add((row["region"], row["tenant"]))
                    for other in held.values():
                        self._touch_key(other)
        if self.pending is not None:
            self.pending |= touched
        self._rebuild(touched)

    def _touch_key(self, row: Row) -> None:
        self._keys.add(_family_key(row))
        self._unkeyed = self._unkeyed or not row.get("reader_key")

    def synced(self) -> None:
        """The index now equals the plan: nothing is pending."""
        self.pending = set()
        self._docs, self._keys, self._unkeyed = set(), set(), False

    def narrowed(self) -> tuple[Plan, Narrow] | None:
        """What a sync of the changes since the last one must compare: the points of the
        duplicate families the changed documents' rows belong to (now, or before the change),
        and which point ids could head them. None when everything must be compared (a fresh
        plan), or a touched row has no reader key (a lake written before it was kept)."""
        if self.pending is None or self._unkeyed:
            return None
        members = [r for key in self._keys for doc in self._by_key.get(key, ()) for r in self._rows[doc].values()
                   if _family_key(r) == key]
        groups: dict[tuple[str, str], Points] = {}
        points: dict[str, Points] = defaultdict(dict)
        for group in self.pending:
            held, _ = self._groups.get(group, ({}, 0))
            mine = {pid: v for pid, v in held.items() if (*group, v[0].get("reader_key") or "") in self._keys}
            groups[group] = mine
            points[group[0]].update(mine)
        return Plan(dict(points), self._plan.duplicates, groups, dict(self._plan.folded)), \
            Narrow.of(members, self._docs, self.model_id)

    @property
    def current(self) -> Plan:
        """The plan as of the last refresh."""
        return self._plan

    @property
    def files(self) -> list[str]:
        """The chunk-lake files the plan was read from, as of the last refresh."""
        return sorted(self._files or ())

    def _load(self, files: set[str]) -> None:
        self._versions = chunk_table.latest_versions(self.lake, files)
        self._rows, self._members = {}, defaultdict(set)
        for row in chunk_table.current_rows(self.lake, files):
            self._rows.setdefault(row["document_id"], {})[row["row_id"]] = row
            self._members[(row["region"], row["tenant"])].add(row["document_id"])
        self._files, self._groups, self._memo = files, {}, {}
        self._by_key = defaultdict(set)
        for doc, held in self._rows.items():
            for row in held.values():
                self._by_key[_family_key(row)].add(doc)
        self.pending = None
        self._docs, self._keys, self._unkeyed = set(), set(), False
        self._rebuild(set(self._members))

    def _rebuild(self, groups: set[tuple[str, str]]) -> None:
        for group in groups:
            region, tenant = group
            rows = [r for doc in self._members.get(group, set()) for r in self._rows[doc].values()
                    if r["region"] == region and r["tenant"] == tenant]
            if not rows:
                self._groups.pop(group, None)
                self._memo.pop(group, None)
                self._members.pop(group, None)
                continue
            points, folded, self._memo[group] = _family_points(rows, self.model_id, self._memo.get(group, {}),
                                                               self.released)
            self._groups[group] = (points, folded)
        by_region: dict[str, Points] = defaultdict(dict)
        by_tenant: dict[str, int] = defaultdict(int)
        for (region, tenant), (points, folded) in sorted(self._groups.items()):
            by_region[region].update(points)
            by_tenant[tenant] += folded
        self._plan = Plan(dict(by_region), sum(by_tenant.values()),
                          {group: points for group, (points, _) in self._groups.items()}, dict(by_tenant))


def _family_key(row: Row) -> tuple[str, str, str]:
    """Which duplicate family a row belongs to: its (region, tenant) group and reader key."""
    return row["region"], row["tenant"], row.get("reader_key") or ""


def meter(rows: list[dict[str, Any]], texts: list[str], seconds: float, embedder: Embedder, run_id: str,
          ledger: Ledger, carbon: CarbonProfile | None = None, processed_in: str = "") -> None:
    """One ledger entry per tenant for one embedded batch; compute time is shared by tokens,
    and so are the batch's estimated energy and emissions (at each region's intensity)."""
    limit = token_counter(embedder.model_path).max_seq_length - 2  # the model reads no more than this
    tokens = [min(n, limit) for n in token_counter(embedder.model_path).count_many(texts)]
    per: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for row, n in zip(rows, tokens, strict=True):
        per[(row["tenant"], row["region"])][0] += 1
        per[(row["tenant"], row["region"])][1] += n
    total = sum(tokens) or 1
    profile = carbon or CarbonProfile()
    entries = []
    for (tenant, region), (count, n) in sorted(per.items()):
        share = seconds * n / total
        wh, grams = footprint(profile, region, embedder.device_name, share)
        entries.append(UsageEntry(run_id=run_id, tenant=tenant, region=region, event="embedding", texts=count,
                                  tokens=n, compute_seconds=share, device=embedder.device_name,
                                  model=embedder.fingerprint.id, energy_wh=wh, co2e_g=grams,
                                  processed_in=processed_in))
    ledger.append(entries)


def _embed(embedder: Embedder, texts: list[str], ahead: EmbedAhead | None) -> tuple[Any, float, int]:
    """Vectors of `texts`, the compute seconds they cost and how many were embedded
    ahead: those are taken over with what they cost then, the others are embedded now."""
    taken = [ahead.take(t) for t in texts] if ahead is not None else [None] * len(texts)
    todo = [i for i, got in enumerate(taken) if got is None]
    vectors = np.empty((len(texts), embedder.dimension), dtype=np.float32)
    spent = 0.0
    if todo:
        began = time.perf_counter()
        vectors[todo] = embedder.embed([texts[i] for i in todo])
        spent = time.perf_counter() - began
    for i, got in enumerate(taken):
        if got is not None:
            vectors[i] = got[0]
            spent += got[1]
    return vectors, spent, len(texts) - len(todo)


def sync_index(lake: Lake, index: VectorIndex, embedder: Embedder, *, progress: bool = False,
               ledger: Ledger | None = None, run_id: str = "", desired: Plan | None = None,
               ahead: EmbedAhead | None = None, scope: Collection[tuple[str, str]] | None = None,
               carbon: CarbonProfile | None = None, compute: ComputeRegion | None = None,
               narrow: Narrow | None = None) -> SyncReport:
    """Make the index equal to the plan (`desired`, or the plan of the whole lake);
    meter each embedded batch to `ledger`, right after the compute is spent (before
    the upsert: the cost is real even if the write is lost and redone). Vectors
    `ahead` already holds are taken from it instead of embedded again. With `scope`,
    only those (region, tenant) groups are compared (LivePlan.pending): the index is
    read through its tenant index for them alone, not point by point for every region;
    with `narrow` too (`desired` is then the plan of the changed documents' duplicate
    families, chunk_table.family_rows), only the points of those documents and of those
    families' chunks are read.
    With `compute`, chunks whose jurisdiction may not be processed in its region are not
    embedded: they stay missing, counted in `report.refused`, for a worker of an allowed region."""
    model_id = embedder.fingerprint.id
    desired = desired if desired is not None else plan(lake, model_id)
    report = SyncReport(duplicates=desired.duplicates)
    work: list[tuple[str, str | None, Points]] = \
        [(region, None, desired.region(region)) for region in sorted(set(desired.points) | set(index.regions()))] \
        if scope is None else [(region, tenant, desired.group(region, tenant)) for region, tenant in sorted(scope)]
    for region, tenant, want in work:
        if narrow is None:
            have = index.digests(region, tenant=tenant)  # point id -> digest of its payload
        else:
            have = index.digests(region, tenant=tenant, documents=narrow.documents)
            others = sorted(narrow.candidates.get((region, tenant or ""), set()) - set(have))
            have.update({h.id: str(h.payload.get("digest", "")) for h in index.retrieve(region, others)})
        report.planned += len(want)
        report.digests_read += len(have)
        extra = set(have) - set(want)
        missing = [pid for pid in want if pid not in have]
        # Same content, other lineage or duplicates: the vector stands, the payload is rewritten.
        moved = {pid: want[pid][1] for pid in want if pid in have and have[pid] != want[pid][1]["digest"]}
        report.unchanged += len(set(have) & set(want)) - len(moved)
        if extra:
            index.delete(region, extra)
            report.deleted += len(extra)
        if moved:
            # The run that wrote a point is lineage, not content: it stays out of the digest.
            index.set_payloads(region, {pid: {**body, "run_id": run_id} for pid, body in moved.items()})
            report.repointed += len(moved)
        if compute is not None:
            allowed = [pid for pid in missing if compute.allows(want[pid][0])]
            for pid in set(missing) - set(allowed):
                row = want[pid][0]
                report.refused[(row["tenant"], row["jurisdiction"])] += 1
                report.refused_ids.add(pid)
            missing = allowed
        # Length-sorted batches pad less.
        missing.sort(key=lambda pid: len(want[pid][0]["text"]))
        bar = tqdm(total=len(missing), desc=f"embed {region}", unit="chunk", disable=not progress or not missing)
        batches = [missing[start:start + EMBED_BATCH] for start in range(0, len(missing), EMBED_BATCH)]

        def embedded(ids: list[str], points: Points = want) -> tuple[list[str], list[str], Any, float, int]:
            texts = [embedding_text(points[pid][0]) for pid in ids]
            return ids, texts, *_embed(embedder, texts, ahead)

        # Batch i+1 is embedded on a thread while batch i is metered and upserted here.
        for ids, texts, vectors, spent, taken in prefetch(batches, embedded):
            report.embedded_ahead += taken
            report.embed_seconds += spent
            if ledger is not None:
                meter([want[pid][0] for pid in ids], texts, spent, embedder, run_id, ledger, carbon,
                      compute.region if compute is not None else "")
            index.upsert(region, [IndexPoint(pid, vec, {**want[pid][1], "run_id": run_id}, document_vector(text))
                                  for pid, vec, text in zip(ids, vectors, texts, strict=True)])
            report.upserted += len(ids)
            bar.update(len(ids))
        bar.close()
        report.by_region[region] = len(desired.region(region))
    if report.upserted or report.deleted or report.repointed:
        index.optimize()
    log.info("index sync: %d upserted, %d deleted, %d repointed, %d unchanged, %d duplicates folded",
             report.upserted, report.deleted, report.repointed, report.unchanged, report.duplicates)
    return report
