"""Where each tenant's data is, and where it was processed: per tenant and jurisdiction,
the regions of every sink (raw and chunk lake, dead letters and their kept bytes,
index collections) with counts, and the compute regions its chunks were embedded in
(from the usage ledger), each checked against the residency policy; plus the
violations that were refused at write time and at compute time (from the audit log)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from ingest.lake_reads import placements as table_placements
from ingest.tables import DEAD_LETTERS, RAW
from pipeline.factory import Factory
from transforms.tables import CHUNKS

SINKS = (("raw lake", RAW), ("chunk lake", CHUNKS), ("dead letters", DEAD_LETTERS))


def placements(factory: Factory) -> list[dict[str, Any]]:
    """(sink, tenant, jurisdiction, region, count) for every place data sits."""
    rows: list[dict[str, Any]] = [
        {"sink": sink, "tenant": p.tenant, "jurisdiction": p.jurisdiction, "region": p.region, "count": p.count}
        for sink, spec in SINKS for p in table_placements(factory.lake, spec)]
    kept = Counter(tuple(b.key.split("/")[1:3]) for b in factory.lake.blobs())
    for (region_part, tenant_part), n in sorted(kept.items()):
        rows.append({"sink": "dead-letter bytes", "tenant": tenant_part.split("=", 1)[1],
                     "jurisdiction": None, "region": region_part.split("=", 1)[1], "count": n})
    index = factory.index_without_model()
    if index is not None:
        jurisdictions = {(r["tenant"], r["region"]): r["jurisdiction"] for r in rows if r["sink"] == "raw lake"}
        tenants = {r["tenant"] for r in rows}
        for region in index.regions():
            for tenant in sorted(t for t in tenants if t):
                n = index.count(region, tenant=tenant)
                if n:
                    rows.append({"sink": f"index {index.model_id}", "tenant": tenant,
                                 "jurisdiction": jurisdictions.get((tenant, region)), "region": region, "count": n})
    return rows


def processing(factory: Factory, jurisdictions: dict[tuple[str, str], str | None]) -> list[dict[str, Any]]:
    """(tenant, stored region, compute region) -> chunks embedded there, from the ledger. A compute
    region of "" was not recorded (a worker without AIFACTORY_COMPUTE_REGION)."""
    embedded: Counter[tuple[str, str, str]] = Counter()
    for entry in factory.ledger.entries():
        if entry.event == "embedding":
            embedded[(entry.tenant, entry.region, entry.processed_in)] += entry.texts
    return [{"sink": f"embedded (stored in {region})", "tenant": tenant,
             "jurisdiction": jurisdictions.get((tenant, region)), "region": where or "unrecorded", "count": n,
             "processed": True}
            for (tenant, region, where), n in sorted(embedded.items())]


def report(factory: Factory) -> dict[str, Any]:
    policy = factory.policy
    tenants: dict[str, list[dict[str, Any]]] = defaultdict(list)
    violations = []
    stored = placements(factory)
    jurisdictions = {(r["tenant"], r["region"]): r["jurisdiction"] for r in stored if r["sink"] == "raw lake"}
    for row in stored + processing(factory, jurisdictions):
        allowed = policy.jurisdictions.get(row["jurisdiction"] or "")
        row["compliant"] = None if allowed is None or row["region"] == "unrecorded" \
            else row["region"] in allowed.allowed
        tenants[row["tenant"] or "(none)"].append(row)
        if row["compliant"] is False:
            violations.append(row)
    audited = list(factory.audit.entries())
    return {"policy": {j: {"home": p.home, "allowed": list(p.allowed)} for j, p in policy.jurisdictions.items()},
            "tenants": dict(sorted(tenants.items())), "violations_found": violations,
            "violations_refused": [e for e in audited if e["action"] == "residency.refused"],
            "compute_refused": [e for e in audited if e["action"] == "residency.compute_refused"]}
