"""Asset checks: is what the factory holds right? Each check reads the lake (and the
index) directly, so it can run on its own, after a materialisation or on a schedule.

    check                 asset             severity  fails when
    schema_drift          each lake table   ERROR/WARN a file's columns differ from the table's contract
    raw_freshness         raw_lake          WARN      nothing landed for FRESHNESS_MAX_AGE
    duplicate_ratio       chunks_lake       ERROR/WARN a row key twice (exactly-once broken) / many near duplicates
    chunk_quality         chunks_lake       WARN      empty chunks, or boilerplate repeated across documents
    pii_leak              chunks_lake       ERROR     a current chunk still holds PII its policy redacts
    residency_compliance  vector_index      ERROR     a record sits in a region its jurisdiction forbids
    index_completeness    vector_index      ERROR     points per region and tenant differ from the lake's chunks

Every check that can fail with ERROR is blocking: in the run that materialises its asset,
an ERROR failure fails the check's step and Dagster skips every downstream asset (a PII
leak in chunks_lake never reaches vector_index; an index that breaks residency or is
incomplete gets no lineage_store COMPLETE event nor usage_ledger summary). A WARN result
never blocks. `raw_freshness` also runs on its own every hour (`freshness_schedule`), since
the case it exists for is the one where nothing materialises raw_lake.

The `evaluate_*` functions take a Factory and are what the checks run; tests call
them too, with planted bad data.
"""


import re
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pyarrow.parquet as pq

from assets.resources import IndexResource, LakeResource, factory
from assets.stages import chunks_lake, dead_letters_lake, raw_lake, scalar, vector_index
from governance.pii import detect
from ingest.lake import TableSpec
from ingest.tables import DEAD_LETTERS, RAW
from pipeline.factory import Factory
from pipeline.residency_report import report as residency_report
from transforms.tables import CHUNKS
from vectorstore.sync import DESIRED_SQL, plan

FRESHNESS_MAX_AGE = timedelta(hours=24)
FRESHNESS_CRON = "0 * * * *"  # hourly: a stale lake is reported within an hour of crossing the bound
NEAR_DUPLICATE_MAX_RATIO = 0.5
MIN_CHUNK_CHARS = 12
BOILERPLATE_MIN_DOCUMENTS = 3  # the same chunk text in this many documents of a tenant is boilerplate
BOILERPLATE_MAX_RATIO = 0.2
SAMPLE = 10  # offending items listed in a check's metadata

ERROR, WARN = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN
_SPACE = re.compile(r"\s+")


def _current_chunks(f: Factory) -> list[dict[str, Any]]:
    if not f.lake.files(CHUNKS):
        return []
    con = f.lake.connect(CHUNKS)
    cur = con.execute(DESIRED_SQL)
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    con.close()
    return rows


def evaluate_schema_drift(f: Factory, spec: TableSpec) -> dg.AssetCheckResult:
    """ERROR when a file has a column of another type or one the contract lacks;
    WARN when files only miss columns added since they were written (read as null)."""
    expected = {fld.name: fld.type for fld in spec.schema}
    missing: dict[str, list[str]] = {}
    wrong: dict[str, list[str]] = {}
    files = f.lake.files(spec)
    for path in files:
        actual = pq.read_schema(path)
        rel = str(path.relative_to(f.lake.root))
        gone = sorted(set(expected) - set(actual.names))
        bad = sorted(f"{fld.name}: {fld.type} (expected {expected.get(fld.name, 'no such column')})"
                     for fld in actual if fld.name not in expected or not fld.type.equals(expected[fld.name]))
        if gone:
            missing[rel] = gone
        if bad:
            wrong[rel] = bad
    severity = ERROR if wrong else WARN
    return dg.AssetCheckResult(
        passed=not wrong and not missing, severity=severity,
        description=None if not (wrong or missing) else
        f"{len(wrong)} file(s) of {spec.name} with unexpected or retyped columns, {len(missing)} missing columns; "
        "rewrite them with `aifactory replay` or fix the writer",
        metadata={"files": len(files),
                  "unexpected_or_retyped": dg.MetadataValue.json(dict(list(wrong.items())[:SAMPLE])),
                  "missing_columns": dg.MetadataValue.json(dict(list(missing.items())[:SAMPLE]))})


def evaluate_freshness(f: Factory, now: datetime | None = None,
                       max_age: timedelta = FRESHNESS_MAX_AGE) -> dg.AssetCheckResult:
    now = now or datetime.now(UTC)
    newest = None
    if f.lake.files(RAW):
        con = f.lake.connect(RAW)
        newest = scalar(con, "SELECT max(landed_at) FROM raw")
        con.close()
    age = (now - newest) if newest else None
    passed = age is not None and age <= max_age
    return dg.AssetCheckResult(
        passed=passed, severity=WARN,
        description=None if passed else
        ("the raw lake is empty" if age is None else f"nothing landed for {age}; is the source or landing stuck? "
         "check the raw_documents lag sensor and the dead letters"),
        metadata={"newest_landed_at": newest.isoformat() if newest else "",
                  "age_hours": round(age.total_seconds() / 3600, 2) if age else -1.0,
                  "max_age_hours": max_age.total_seconds() / 3600})


def evaluate_duplicates(f: Factory) -> dg.AssetCheckResult:
    """Row keys stored twice break exactly-once (ERROR); a high share of near-duplicate
    chunks (folded into one point each) is worth a look at the sources (WARN)."""
    repeated: dict[str, int] = {}
    for spec in (RAW, CHUNKS):
        if f.lake.files(spec):
            con = f.lake.connect(spec)
            repeated[spec.name] = int(scalar(con, f"SELECT count(*) - count(DISTINCT {spec.key}) FROM {spec.name}"))
            con.close()
    current = len(_current_chunks(f))
    folded = plan(f.lake, "any").duplicates if current else 0
    ratio = folded / current if current else 0.0
    twice = sum(repeated.values())
    return dg.AssetCheckResult(
        passed=not twice and ratio <= NEAR_DUPLICATE_MAX_RATIO, severity=ERROR if twice else WARN,
        description=(f"{twice} row(s) stored twice ({repeated}): a sink wrote a record again; find the run "
                     "and compact the partition" if twice else
                     f"{ratio:.0%} of current chunks are duplicates of others; check the sources for copies"
                     if ratio > NEAR_DUPLICATE_MAX_RATIO else None),
        metadata={"repeated_keys": dg.MetadataValue.json(repeated), "current_chunks": current,
                  "duplicates_folded": folded, "duplicate_ratio": round(ratio, 4)})


def evaluate_chunk_quality(f: Factory) -> dg.AssetCheckResult:
    rows = _current_chunks(f)
    empty = [r["chunk_id"] for r in rows if len((r["text"] or "").strip()) < MIN_CHUNK_CHARS]
    documents: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in rows:
        documents[(r["tenant"], _SPACE.sub(" ", (r["text"] or "").strip().lower()))].add(r["document_id"])
    boiler = {text[:80]: len(docs) for (_, text), docs in documents.items()
              if len(docs) >= BOILERPLATE_MIN_DOCUMENTS and text}
    boiler_rows = sum(n for n in boiler.values())
    ratio = boiler_rows / len(rows) if rows else 0.0
    passed = not empty and ratio <= BOILERPLATE_MAX_RATIO
    return dg.AssetCheckResult(
        passed=passed, severity=WARN,
        description=None if passed else
        f"{len(empty)} empty chunk(s), {ratio:.0%} boilerplate; strip headers/footers in the parser or tune the "
        "chunker",
        metadata={"current_chunks": len(rows), "empty_chunks": len(empty),
                  "empty_sample": dg.MetadataValue.json(empty[:SAMPLE]), "boilerplate_ratio": round(ratio, 4),
                  "boilerplate_sample": dg.MetadataValue.json(dict(list(boiler.items())[:SAMPLE]))})


def evaluate_pii(f: Factory) -> dg.AssetCheckResult:
    """Runs the PII detectors on every current chunk; a finding of a kind the tenant's
    privacy policy does not keep is a leak past redaction."""
    leaks: Counter[str] = Counter()
    sample: list[dict[str, str]] = []
    rows = _current_chunks(f)
    for r in rows:
        keep = {k for k, mode in f.privacy.modes(r["tenant"], r["jurisdiction"]).items() if mode == "keep"}
        for finding in detect(r["text"] or ""):
            if finding.kind in keep:
                continue
            leaks[finding.kind] += 1
            if len(sample) < SAMPLE:
                sample.append({"chunk_id": r["chunk_id"], "tenant": r["tenant"], "kind": finding.kind,
                               "source_uri": r["source_uri"]})
    return dg.AssetCheckResult(
        passed=not leaks, severity=ERROR,
        description=None if not leaks else
        f"{sum(leaks.values())} PII finding(s) past redaction ({dict(leaks)}); erase the documents "
        "(`aifactory erase`), fix the redaction rule, then re-ingest",
        metadata={"chunks_scanned": len(rows), "leaks": dg.MetadataValue.json(dict(leaks)),
                  "sample": dg.MetadataValue.json(sample)})


def evaluate_residency(f: Factory) -> dg.AssetCheckResult:
    data = residency_report(f)
    found = data["violations_found"]
    return dg.AssetCheckResult(
        passed=not found, severity=ERROR,
        description=None if not found else "; ".join(
            f"{v['count']} {v['jurisdiction']} record(s) of {v['tenant']} in {v['sink']} at {v['region']}"
            for v in found) + ". Move or erase them, then fix the producer that wrote them.",
        metadata={"violations": len(found), "refused_at_write": len(data["violations_refused"]),
                  "placements": dg.MetadataValue.json([r for rows in data["tenants"].values() for r in rows])})


def evaluate_index_completeness(f: Factory) -> dg.AssetCheckResult:
    """For the active model, per region and tenant: the points the lake's current
    chunks call for (one per duplicate family) against the points in the index."""
    index = f.index_without_model()
    if index is None:
        current = len(_current_chunks(f))
        return dg.AssetCheckResult(passed=current == 0, severity=ERROR,
                                   description=None if not current else
                                   f"no index yet for {current} current chunk(s); materialise vector_index",
                                   metadata={"model": "", "partitions": dg.MetadataValue.json({})})
    desired = plan(f.lake, index.model_id)
    partitions: dict[str, dict[str, int]] = {}
    missing_total = extra_total = 0
    for region in sorted(set(desired.points) | set(index.regions())):
        present = index.ids(region) if region in index.regions() else set()
        want = desired.region(region)
        tenants = {body["tenant"] for _, body in want.values()}
        for tenant in sorted(tenants):
            ids = {pid for pid, (_, body) in want.items() if body["tenant"] == tenant}
            missing = len(ids - present)
            partitions[f"{region}/{tenant}"] = {"chunks": len(ids), "points": len(ids & present),
                                                "missing": missing}
            missing_total += missing
        extra = len(present - set(want))
        if extra:
            partitions[f"{region}/(not in lake)"] = {"chunks": 0, "points": extra, "missing": 0}
            extra_total += extra
    passed = not missing_total and not extra_total
    return dg.AssetCheckResult(
        passed=passed, severity=ERROR,
        description=None if passed else
        f"{missing_total} point(s) missing and {extra_total} extra in the index of {index.model_id}; "
        "materialise vector_index (it converges) or run the reindex job",
        metadata={"model": index.model_id, "missing": missing_total, "extra": extra_total,
                  "partitions": dg.MetadataValue.json(partitions)})


def _schema_check(asset: dg.AssetsDefinition, spec: TableSpec) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=asset, name="schema_drift", blocking=True,
                    description=f"Every Parquet file of the {spec.name} table has the columns and types of its "
                                "contract. ERROR on retyped or unknown columns (blocking: the run's downstream "
                                "assets are skipped), WARN on columns older files lack.")
    def _check(lake: LakeResource) -> dg.AssetCheckResult:
        return evaluate_schema_drift(factory(lake), spec)

    return _check


# Reads the lake's landed_at, not Dagster's materialisation history (what FreshnessPolicy and
# build_last_update_freshness_checks measure): rows also land through `aifactory run`, `up`
# and the land workers, outside any Dagster run. WARN: stale data is still worth indexing.
@dg.asset_check(asset=raw_lake, blocking=False,
                description="Something landed in the raw lake within the last 24 hours (WARN). Evaluated every hour "
                            "by freshness_schedule (on by default), and after each raw_lake materialisation. Stale "
                            "data means a source or the landing group stopped: look at the raw_documents lag sensor.")
def raw_freshness(lake: LakeResource) -> dg.AssetCheckResult:
    return evaluate_freshness(factory(lake))


freshness_job = dg.define_asset_job(
    "freshness_job", selection=dg.AssetSelection.checks(raw_freshness),
    description="Evaluate raw_freshness alone (reads the lake; materialises nothing).")
# On by default: a freshness alarm that someone must first switch on is the silent case it exists for.
freshness_schedule = dg.ScheduleDefinition(
    name="freshness_schedule", job=freshness_job, cron_schedule=FRESHNESS_CRON, execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly: is anything landing? Runs raw_freshness against the lake without materialising raw_lake.")


@dg.asset_check(asset=chunks_lake, blocking=True,
                description="No row key is stored twice in the raw or chunks lake (ERROR: exactly-once broken), "
                            "and at most half the current chunks are near duplicates of others (WARN). The ERROR "
                            "blocks vector_index in the same run: compact the partition first.")
def duplicate_ratio(lake: LakeResource) -> dg.AssetCheckResult:
    return evaluate_duplicates(factory(lake))


# WARN only (poor chunks are still searchable): Dagster blocks on ERROR, so blocking would change nothing.
@dg.asset_check(asset=chunks_lake, blocking=False,
                description="No current chunk is empty, and at most 20% are boilerplate repeated across three or "
                            "more documents of a tenant (WARN): such chunks crowd out answers.")
def chunk_quality(lake: LakeResource) -> dg.AssetCheckResult:
    return evaluate_chunk_quality(factory(lake))


@dg.asset_check(asset=chunks_lake, blocking=True,
                description="The PII detectors find nothing in current chunks that the tenant's privacy policy "
                            "redacts (ERROR, blocking): a leak past redaction, so vector_index is skipped in the same "
                            "run. Erase, fix the rule, re-ingest.")
def pii_leak(lake: LakeResource) -> dg.AssetCheckResult:
    return evaluate_pii(factory(lake))


@dg.asset_check(asset=vector_index, blocking=True,
                description="Every record in the raw and chunk lake, the dead letters and the index sits in a region "
                            "its jurisdiction may be stored in (the residency policy). A failure lists where; move "
                            "or erase those records, then fix the producer that wrote them. ERROR, blocking: "
                            "lineage_store and usage_ledger are skipped, so no COMPLETE lineage event vouches for a "
                            "non-compliant index.")
def residency_compliance(lake: LakeResource, index: IndexResource) -> dg.AssetCheckResult:
    return _with_index(lake, index, evaluate_residency)


@dg.asset_check(asset=vector_index, blocking=True,
                description="Points in the index equal the current chunks in the lake for each region and tenant, "
                            "for the active model (ERROR, blocking: lineage_store and usage_ledger are skipped). "
                            "Missing points are unsearchable documents.")
def index_completeness(lake: LakeResource, index: IndexResource) -> dg.AssetCheckResult:
    return _with_index(lake, index, evaluate_index_completeness)


def _with_index(lake: LakeResource, index: IndexResource,
                evaluate: Callable[[Factory], dg.AssetCheckResult]) -> dg.AssetCheckResult:
    f = factory(lake, index=index)
    try:
        return evaluate(f)
    finally:
        f.close()


CHECKS = [_schema_check(raw_lake, RAW), _schema_check(chunks_lake, CHUNKS),
          _schema_check(dead_letters_lake, DEAD_LETTERS), raw_freshness, duplicate_ratio, chunk_quality,
          pii_leak, residency_compliance, index_completeness]
