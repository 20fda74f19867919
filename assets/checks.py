"""Asset checks: is what the factory holds right? Each check reads the lake (and the
index) itself, so it can run on its own, after a materialisation or on a schedule.

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

Each check measures through one call of pipeline/quality.py (or residency_report.py);
the `evaluate_*` functions here turn what it found into a result (pass, severity,
description, metadata). They take a Factory; tests call them too, with planted bad data.
"""


from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import dagster as dg

from assets.resources import FactoryResource
from assets.stages import chunks_lake, dead_letters_lake, raw_lake, vector_index
from ingest.lake import TableSpec
from ingest.tables import DEAD_LETTERS, RAW
from pipeline import quality
from pipeline.factory import Factory
from pipeline.residency_report import report as residency_report
from transforms.tables import CHUNKS

FRESHNESS_MAX_AGE = timedelta(hours=24)
FRESHNESS_CRON = "0 * * * *"  # hourly: a stale lake is reported within an hour of crossing the bound
NEAR_DUPLICATE_MAX_RATIO = 0.5
BOILERPLATE_MAX_RATIO = 0.2
SAMPLE = 10  # offending items listed in a check's metadata

ERROR, WARN = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN


def evaluate_schema_drift(f: Factory, spec: TableSpec) -> dg.AssetCheckResult:
    """ERROR when a file has a column of another type or one the contract lacks;
    WARN when files only miss columns added since they were written (read as null)."""
    drift = quality.schema_drift(f, spec)
    wrong, missing = drift.wrong, drift.missing
    return dg.AssetCheckResult(
        passed=not wrong and not missing, severity=ERROR if wrong else WARN,
        description=None if not (wrong or missing) else
        f"{len(wrong)} file(s) of {spec.name} with unexpected or retyped columns, {len(missing)} missing columns; "
        "rewrite them with `aifactory replay` or fix the writer",
        metadata={"files": drift.files,
                  "unexpected_or_retyped": dg.MetadataValue.json(dict(list(wrong.items())[:SAMPLE])),
                  "missing_columns": dg.MetadataValue.json(dict(list(missing.items())[:SAMPLE]))})


def evaluate_freshness(f: Factory, now: datetime | None = None,
                       max_age: timedelta = FRESHNESS_MAX_AGE) -> dg.AssetCheckResult:
    now = now or datetime.now(UTC)
    newest = quality.newest_landed(f)
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
    found = quality.duplicates(f)
    twice, ratio = sum(found.repeated.values()), found.ratio
    return dg.AssetCheckResult(
        passed=not twice and ratio <= NEAR_DUPLICATE_MAX_RATIO, severity=ERROR if twice else WARN,
        description=(f"{twice} row(s) stored twice ({found.repeated}): a sink wrote a record again (runs of an "
                     "older version at once, or a crash mid-compaction); run `aifactory repair` to fold them"
                     if twice else
                     f"{ratio:.0%} of current chunks are duplicates of others; check the sources for copies"
                     if ratio > NEAR_DUPLICATE_MAX_RATIO else None),
        metadata={"repeated_keys": dg.MetadataValue.json(found.repeated), "current_chunks": found.current,
                  "duplicates_folded": found.folded, "duplicate_ratio": round(ratio, 4)})


def evaluate_chunk_quality(f: Factory) -> dg.AssetCheckResult:
    found = quality.chunk_quality(f)
    ratio = found.boilerplate_ratio
    passed = not found.empty and ratio <= BOILERPLATE_MAX_RATIO
    return dg.AssetCheckResult(
        passed=passed, severity=WARN,
        description=None if passed else
        f"{len(found.empty)} empty chunk(s), {ratio:.0%} boilerplate; strip headers/footers in the parser or tune "
        "the chunker",
        metadata={"current_chunks": found.current, "empty_chunks": len(found.empty),
                  "empty_sample": dg.MetadataValue.json(found.empty[:SAMPLE]), "boilerplate_ratio": round(ratio, 4),
                  "boilerplate_sample": dg.MetadataValue.json(dict(list(found.boilerplate.items())[:SAMPLE]))})


def evaluate_pii(f: Factory) -> dg.AssetCheckResult:
    """A PII finding in a current chunk, of a kind the tenant's privacy policy does not
    keep, is a leak past redaction."""
    found = quality.pii_leaks(f, sample=SAMPLE)
    leaks = found.leaks
    return dg.AssetCheckResult(
        passed=not leaks, severity=ERROR,
        description=None if not leaks else
        f"{sum(leaks.values())} PII finding(s) past redaction ({leaks}); erase the documents "
        "(`aifactory erase`), fix the redaction rule, then re-ingest",
        metadata={"chunks_scanned": found.scanned, "leaks": dg.MetadataValue.json(leaks),
                  "sample": dg.MetadataValue.json([asdict(s) for s in found.sample])})


def evaluate_residency(f: Factory) -> dg.AssetCheckResult:
    data = residency_report(f)
    found = data["violations_found"]
    return dg.AssetCheckResult(
        passed=not found, severity=ERROR,
        description=None if not found else "; ".join(
            f"{v['count']} {v['jurisdiction']} record(s) of {v['tenant']} in {v['sink']} at {v['region']}"
            for v in found) + ". Move or erase them, then fix the producer that wrote them.",
        metadata={"violations": len(found), "refused_at_write": len(data["violations_refused"]),
                  "left_for_an_allowed_compute_region": sum(e["details"]["chunks"] for e in data["compute_refused"]),
                  "placements": dg.MetadataValue.json([r for rows in data["tenants"].values() for r in rows])})


def evaluate_index_completeness(f: Factory) -> dg.AssetCheckResult:
    """For the active model, per region and tenant: the points the lake's current
    chunks call for (one per duplicate family) against the points in the index."""
    found = quality.index_completeness(f)
    if found.model is None:
        return dg.AssetCheckResult(passed=found.unindexed == 0, severity=ERROR,
                                   description=None if not found.unindexed else
                                   f"no index yet for {found.unindexed} current chunk(s); materialise vector_index",
                                   metadata={"model": "", "partitions": dg.MetadataValue.json({})})
    passed = not found.missing and not found.extra
    return dg.AssetCheckResult(
        passed=passed, severity=ERROR,
        description=None if passed else
        f"{found.missing} point(s) missing and {found.extra} extra in the index of {found.model}; "
        "materialise vector_index (it converges) or run the reindex job",
        metadata={"model": found.model, "missing": found.missing, "extra": found.extra,
                  "partitions": dg.MetadataValue.json({k: asdict(p) for k, p in found.partitions.items()})})


def _schema_check(asset: dg.AssetsDefinition, spec: TableSpec) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=asset, name="schema_drift", blocking=True,
                    description=f"Every Parquet file of the {spec.name} table has the columns and types of its "
                                "contract. ERROR on retyped or unknown columns (blocking: the run's downstream "
                                "assets are skipped), WARN on columns older files lack.")
    def _check(factory: FactoryResource) -> dg.AssetCheckResult:
        with factory.step() as f:
            return evaluate_schema_drift(f, spec)

    return _check


# Reads the lake's landed_at, not Dagster's materialisation history (what FreshnessPolicy and
# build_last_update_freshness_checks measure): rows also land through `aifactory run`, `up`
# and the land workers, outside any Dagster run. WARN: stale data is still worth indexing.
@dg.asset_check(asset=raw_lake, blocking=False,
                description="Something landed in the raw lake within the last 24 hours (WARN). Evaluated every hour "
                            "by freshness_schedule (on by default), and after each raw_lake materialisation. Stale "
                            "data means a source or the landing group stopped: look at the raw_documents lag sensor.")
def raw_freshness(factory: FactoryResource) -> dg.AssetCheckResult:
    with factory.step() as f:
        return evaluate_freshness(f)


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
                            "blocks vector_index in the same run: run `aifactory repair` first.")
def duplicate_ratio(factory: FactoryResource) -> dg.AssetCheckResult:
    with factory.step() as f:
        return evaluate_duplicates(f)


# WARN only (poor chunks are still searchable): Dagster blocks on ERROR, so blocking would change nothing.
@dg.asset_check(asset=chunks_lake, blocking=False,
                description="No current chunk is empty, and at most 20% are boilerplate repeated across three or "
                            "more documents of a tenant (WARN): such chunks crowd out answers.")
def chunk_quality(factory: FactoryResource) -> dg.AssetCheckResult:
    with factory.step() as f:
        return evaluate_chunk_quality(f)


@dg.asset_check(asset=chunks_lake, blocking=True,
                description="The PII detectors find nothing in current chunks that the tenant's privacy policy "
                            "redacts (ERROR, blocking): a leak past redaction, so vector_index is skipped in the same "
                            "run. Erase, fix the rule, re-ingest.")
def pii_leak(factory: FactoryResource) -> dg.AssetCheckResult:
    with factory.step() as f:
        return evaluate_pii(f)


@dg.asset_check(asset=vector_index, blocking=True,
                description="Every record in the raw and chunk lake, the dead letters and the index sits in a region "
                            "its jurisdiction may be stored in (the residency policy). A failure lists where; move "
                            "or erase those records, then fix the producer that wrote them. ERROR, blocking: "
                            "lineage_store and usage_ledger are skipped, so no COMPLETE lineage event vouches for a "
                            "non-compliant index.")
def residency_compliance(factory: FactoryResource) -> dg.AssetCheckResult:
    with factory.step() as f:
        return evaluate_residency(f)


@dg.asset_check(asset=vector_index, blocking=True,
                description="Points in the index equal the current chunks in the lake for each region and tenant, "
                            "for the active model (ERROR, blocking: lineage_store and usage_ledger are skipped). "
                            "Missing points are unsearchable documents.")
def index_completeness(factory: FactoryResource) -> dg.AssetCheckResult:
    with factory.step() as f:
        return evaluate_index_completeness(f)


CHECKS = [_schema_check(raw_lake, RAW), _schema_check(chunks_lake, CHUNKS),
          _schema_check(dead_letters_lake, DEAD_LETTERS), raw_freshness, duplicate_ratio, chunk_quality,
          pii_leak, residency_compliance, index_completeness]
