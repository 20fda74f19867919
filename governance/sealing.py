"""Sealed values: the text and title of documents and chunks, encrypted with their
tenant's data key (AES-256-GCM, the tenant as associated data) from the edge where
they enter to the places that need the words.

Sealed where they are made: the edge seals each event before it is published, the
transform worker each chunk, the index each payload, the lake each dead-letter copy.
So the Kafka log, the lake's Parquet files, the index's storage and the dead-letter
copies hold ciphertext. Opened where they are used: the transform worker (chunking,
screening), the lake's readers (the index sync embeds them), search results.

A sealed string is `aifx1:<key id>:<nonce+ciphertext, base64url>`; a string without the
prefix is plaintext written before encryption was on, and is read as it is. What stays
plain, by design: ids, file paths, content hashes (equal texts are seen equal), metadata
names, and the vectors (an embedding can leak meaning: the index's storage should sit on
an encrypted volume too).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from pathlib import Path
from typing import Any, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from governance.contracts import ChunkRecord, DocumentEvent
from governance.keyring import DataKeys, KeyError_, LocalKms, ShreddedError

PREFIX = "aifx1:"
TOKEN = re.compile(r"aifx1:([0-9a-f]{8}):[A-Za-z0-9_\-]+=*")  # a sealed value, wherever it is written
BLOB_MAGIC = b"AIFX1\0"
# Sealed string fields (a chunk's section is its heading's words); an event's metadata values too.
FIELDS = ("title", "text", "section")

R = TypeVar("R", DocumentEvent, ChunkRecord)


class UnreadableError(KeyError_):
    """A sealed value does not open: altered, or sealed for another tenant."""


class Sealer:
    """Seals and opens one home's values; `Sealer(None)` is encryption off (values pass)."""

    def __init__(self, keys: DataKeys | None) -> None:
        self.keys = keys

    @classmethod
    def at(cls, data_keys: Path, kms_dir: Path) -> Sealer:
        return cls(DataKeys(data_keys, LocalKms(kms_dir)))

    @property
    def on(self) -> bool:
        return self.keys is not None

    def seal(self, tenant: str, value: str) -> str:
        if self.keys is None or not value or value.startswith(PREFIX):
            return value
        kid, key = self.keys.current(tenant)
        nonce = secrets.token_bytes(12)
        body = nonce + AESGCM(key).encrypt(nonce, value.encode("utf-8"), tenant.encode())
        return f"{PREFIX}{kid}:{base64.urlsafe_b64encode(body).decode()}"

    def open(self, tenant: str, value: str) -> str:
        """The plaintext; ShreddedError when the tenant's keys are destroyed."""
        if not value or not value.startswith(PREFIX):
            return value
        if self.keys is None:
            raise KeyError_("a sealed value was found but encryption is off here; set AIFACTORY_ENCRYPTION=on "
                            "(and the same AIFACTORY_KMS_DIR) in every process of this home")
        kid, _, body = value[len(PREFIX):].partition(":")
        try:
            data = base64.urlsafe_b64decode(body)
        except ValueError:
            raise UnreadableError(f"a sealed value of tenant {tenant!r} is damaged (not base64)") from None
        try:
            return AESGCM(self.keys.key(tenant, kid)).decrypt(data[:12], data[12:], tenant.encode()).decode()
        except InvalidTag:
            raise UnreadableError(f"a sealed value of tenant {tenant!r} does not open: altered, or not "
                                  "this tenant's") from None

    def stale(self, tenant: str, value: str) -> bool:
        """Whether `value` holds a sealed token under a data key other than the current one."""
        if self.keys is None or PREFIX not in value:
            return False
        kid = self.keys.current(tenant)[0]
        return any(m.group(1) != kid for m in TOKEN.finditer(value))

    def reseal(self, tenant: str, value: str) -> str:
        """Every sealed token in `value` (a metadata JSON holds several) sealed again under the
        current data key; plaintext stays as it is."""
        if not self.stale(tenant, value):
            return value
        return TOKEN.sub(lambda m: self.seal(tenant, self.open(tenant, m.group())), value)

    def reseal_bytes(self, tenant: str, data: bytes) -> bytes:
        if self.keys is None or not data.startswith(BLOB_MAGIC):
            return data
        at = len(BLOB_MAGIC)
        if data[at:at + 8].decode() == self.keys.current(tenant)[0]:
            return data
        return self.seal_bytes(tenant, self.open_bytes(tenant, data))

    def seal_bytes(self, tenant: str, data: bytes) -> bytes:
        if self.keys is None or not data:
            return data
        kid, key = self.keys.current(tenant)
        nonce = secrets.token_bytes(12)
        return BLOB_MAGIC + kid.encode() + nonce + AESGCM(key).encrypt(nonce, data, tenant.encode())

    def open_bytes(self, tenant: str, data: bytes) -> bytes:
        if not data.startswith(BLOB_MAGIC):
            return data
        if self.keys is None:
            raise KeyError_("a sealed file was found but encryption is off here; set AIFACTORY_ENCRYPTION=on")
        at = len(BLOB_MAGIC)
        kid, nonce = data[at:at + 8].decode(), data[at + 8:at + 20]
        try:
            return AESGCM(self.keys.key(tenant, kid)).decrypt(nonce, data[at + 20:], tenant.encode())
        except InvalidTag:
            raise UnreadableError(f"a sealed file of tenant {tenant!r} does not open: altered, or not "
                                  "this tenant's") from None

    def seal_record(self, record: R) -> R:
        if self.keys is None:
            return record
        update: dict[str, Any] = {f: self.seal(record.tenant, getattr(record, f)) for f in FIELDS if hasattr(record, f)}
        if isinstance(record, DocumentEvent):  # an event's metadata: values sealed, names kept
            update["metadata"] = {k: self.seal(record.tenant, v) for k, v in record.metadata.items()}
        return record.model_copy(update=update)

    @staticmethod
    def sealed(record: DocumentEvent | ChunkRecord) -> bool:
        return any(getattr(record, f, "").startswith(PREFIX) for f in FIELDS) or \
            any(v.startswith(PREFIX) for v in getattr(record, "metadata", {}).values())

    def open_record(self, record: R) -> R:
        if not self.sealed(record):
            return record
        update: dict[str, Any] = {f: self.open(record.tenant, getattr(record, f)) for f in FIELDS if hasattr(record, f)}
        if isinstance(record, DocumentEvent):
            update["metadata"] = {k: self.open(record.tenant, v) for k, v in record.metadata.items()}
        return record.model_copy(update=update)

    def seal_fields(self, row: dict[str, Any]) -> dict[str, Any]:
        """A row or payload with its text, title and section sealed (for storage)."""
        if self.keys is None or not row.get("tenant"):
            return row
        return {**row, **{f: self.seal(row["tenant"], row[f]) for f in FIELDS if isinstance(row.get(f), str)}}

    def open_fields(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """A row or payload with its text, title and section opened, and the values of a raw
        row's metadata (JSON); None when its tenant was shredded."""
        meta = row.get("metadata")
        sealed_meta = isinstance(meta, str) and PREFIX in meta
        if not sealed_meta and not any(isinstance(row.get(f), str) and row[f].startswith(PREFIX) for f in FIELDS):
            return row
        try:
            opened = {**row, **{f: self.open(row["tenant"], row[f]) for f in FIELDS if isinstance(row.get(f), str)}}
            if sealed_meta:
                values = json.loads(meta)  # type: ignore[arg-type]
                opened["metadata"] = json.dumps({k: self.open(row["tenant"], v) for k, v in values.items()},
                                                sort_keys=True)
            return opened
        except ShreddedError:
            return None

    def open_rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows opened; a shredded tenant's rows are left out (they can never be read again)."""
        opened = (self.open_fields(r) for r in rows)
        return [r for r in opened if r is not None]
