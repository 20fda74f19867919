"""A tenant's encryption keys over its life: rotate, rewrap, reseal, shred (`aifactory tenant`).

Shredding is offboarding by key destruction: the tenant's master keys are destroyed in
the key manager and its wrapped data keys scrubbed from the data directory, so every
copy of its text and titles sealed with them (the lake, the index, dead-letter copies,
the Kafka log, any backup of these) is unreadable at once. Its points leave the index,
so its searches return nothing. The receipt in the audit log says what was destroyed
and what was still readable when it ran: values written before encryption was on are
plaintext, which key destruction cannot reach (`aifactory erase` or `delete` can).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from governance.errors import GovernanceError
from governance.keyring import DataKeys
from governance.sealing import FIELDS, PREFIX
from ingest.tables import RAW
from pipeline.errors import EncryptionOffError
from pipeline.factory import Factory
from pipeline.sync_checkpoint import SyncCheckpoint
from transforms.tables import CHUNKS
from vectorstore.sealed import bare


def _keys(factory: Factory) -> DataKeys:
    if factory.sealer.keys is None:
        raise EncryptionOffError("encryption at rest is off for this home, so there are no tenant keys; set "
                                 "AIFACTORY_ENCRYPTION=on (in every process of the home) to seal what is written "
                                 "from then on")
    return factory.sealer.keys


def rotate(factory: Factory, tenant: str) -> dict[str, Any]:
    """A new master version and data key: new writes use them at once, old data still opens."""
    keys = _keys(factory)
    with factory.writing():
        kid = keys.rotate(tenant)
        entry: dict[str, Any] = {"data_key": kid, "data_keys": len(keys.kids(tenant))}
        factory.audit.append("tenant.key_rotated", tenant, **entry)
    return {"tenant": tenant, **entry}


def rewrap(factory: Factory, tenant: str) -> dict[str, Any]:
    """Every data key wrapped under the newest master version; the older versions destroyed."""
    keys = _keys(factory)
    with factory.writing():
        n = keys.rewrap(tenant)
        factory.audit.append("tenant.rewrapped", tenant, data_keys=n)
    return {"tenant": tenant, "data_keys": n}


SEALED_COLUMNS = (*FIELDS, "metadata")  # the lake columns that hold sealed values


def reseal(factory: Factory, tenant: str) -> dict[str, Any]:
    """Everything of the tenant sealed again under its current data key (the lake's rows,
    dead-letter copies, index payloads), then its other data keys destroyed: after a data
    key is feared exposed, rotate, then reseal. Kafka messages still under an old key are
    unreadable afterwards; the raw lake, resealed, is what replays read."""
    keys = _keys(factory)
    sealer = factory.sealer
    with factory.writing():
        kid = keys.current(tenant)[0]
        files = sum(factory.lake.rewrite_values(spec, tenant, SEALED_COLUMNS, lambda v: sealer.reseal(tenant, v))
                    for spec in (RAW, CHUNKS) if factory.lake.files(spec))
        blobs = 0
        for stored in factory.lake.blobs(tenant):
            data = factory.lake.read_bytes(stored.key)
            again = sealer.reseal_bytes(tenant, data)
            if again != data:
                factory.lake.store.put(stored.key, _writer(again))
                blobs += 1
        points = 0
        index = factory.index_without_model()
        if index is not None:
            for region in index.regions():
                stale = [h.id for h in bare(index).points(region) if h.payload.get("tenant") == tenant and any(
                    isinstance(h.payload.get(f), str) and sealer.stale(tenant, h.payload[f]) for f in FIELDS)]
                if stale:  # read opened, written back sealed under the current key (vectorstore/sealed.py)
                    index.set_payloads(region, {h.id: h.payload for h in index.retrieve(region, stale)})
                    points += len(stale)
        dropped = keys.drop_others(tenant)
        receipt: dict[str, Any] = {"data_key": kid, "lake_files": files, "dead_letter_copies": blobs,
                                   "points": points, "data_keys_destroyed": len(dropped)}
        factory.audit.append("tenant.resealed", tenant, **receipt)
    return {"tenant": tenant, **receipt}


def _writer(data: bytes) -> Callable[[Any], object]:
    return lambda out: out.write(data)


@dataclass(frozen=True)
class Readable:
    """What of a tenant can still be read without its keys: plaintext written before
    encryption was on."""

    lake_rows: int
    index_points: int


def readable(factory: Factory, tenant: str) -> Readable:
    """The tenant's chunk rows and index points whose text, title or section is plaintext."""
    rows = 0
    if factory.lake.files(CHUNKS):
        with factory.lake.connect(CHUNKS) as con:
            where = " OR ".join(f"({f} <> '' AND NOT starts_with({f}, ?))" for f in FIELDS)
            found = con.execute(f"SELECT count(*) FROM chunks WHERE tenant = ? AND op = 'upsert' AND ({where})",
                                [tenant, *[PREFIX] * len(FIELDS)]).fetchone()
            rows = int(found[0]) if found else 0
    points = 0
    index = factory.index_without_model()
    if index is not None:
        inner = bare(index)  # the stored payloads, not the opened ones
        for region in inner.regions():
            points += sum(1 for h in inner.points(region) if h.payload.get("tenant") == tenant and any(
                isinstance(h.payload.get(f), str) and h.payload[f] and not h.payload[f].startswith(PREFIX)
                for f in FIELDS))
    return Readable(rows, points)


def shred(factory: Factory, tenant: str) -> dict[str, Any]:
    keys = _keys(factory)
    kms = keys.kms
    if keys.shredded(tenant):
        raise GovernanceError(f"tenant {tenant!r} was already shredded")
    factory.audit.key  # noqa: B018 - the audit key first: a shredding must leave its receipt
    with factory.writing():
        left = readable(factory, tenant)
        data_keys = keys.kids(tenant)
        masters = kms.destroy(tenant)
        keys.forget(tenant)
        removed = 0
        index = factory.index_without_model()
        if index is not None:
            for region in index.regions():
                ids = set(index.digests(region, tenant=tenant))
                if ids:
                    index.delete(region, ids)
                    removed += len(ids)
        active = factory.active_model()
        if active is not None:  # the next sync compares everything, the shredded rows left out
            SyncCheckpoint(factory.settings.home, active["id"]).forget()
        receipt: dict[str, Any] = {"master_versions_destroyed": masters, "data_keys_destroyed": len(data_keys),
                   "points_removed": removed,
                   "readable_left": {"lake_rows": left.lake_rows, "index_points": left.index_points}}
        factory.audit.append("tenant.shredded", tenant, **receipt)
    return {"tenant": tenant, **receipt}
