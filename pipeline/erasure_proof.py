"""The proof of an erasure: every file under the data directory searched for the
subject's identifier, in the spellings that hide it from a plain search.

Each file is read as bytes (case-folded), then as text with invisible characters
dropped and NFKC applied (which undoes zero-width spaces, soft hyphens, full-width
letters and @) and percent-decoded (file URIs encode @ as %40). Parquet pages may be
compressed, so the decompressed values of every string column are searched as well.
Other tenants' lake partitions and kept bytes are not searched: their data is not
this erasure's to remove (the index and shared files are searched whole). With
encryption at rest, sealed values (in any file, and Parquet values) and sealed
dead-letter copies of the tenant are opened and searched too: ciphertext proves nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePath, PurePosixPath
from typing import Any
from urllib.parse import quote, unquote

import pyarrow as pa
import pyarrow.parquet as pq

from governance.keyring import KeyError_
from governance.pii import visible
from governance.sealing import BLOB_MAGIC, TOKEN, Sealer
from ingest.lake import Lake

_BLOCK = 16 << 20  # bytes read at a time
_OVERLAP = 4096  # re-read across a block boundary, longer than any obfuscated spelling
# Separators a card number, IBAN or phone number may be written with.
_SEPARATORS = re.compile(r"[\s\-./()]")
# Index files are preallocated and mostly zeros; no text runs across them.
_ZEROS = re.compile(rb"\x00{16,}")
_SEALED = re.compile(TOKEN.pattern.encode())
_SEALED_OVERLAP = 1 << 16  # longer than any sealed chunk text


class _Opener:
    """Opens the tenant's sealed values found in bytes; another tenant's do not open (skipped)."""

    def __init__(self, sealer: Sealer | None, tenant: str) -> None:
        self.sealer, self.tenant = sealer if sealer is not None and sealer.on else None, tenant

    def texts(self, data: bytes) -> Iterator[str]:
        if self.sealer is None:
            return
        for m in _SEALED.finditer(data):
            try:
                yield self.sealer.open(self.tenant, m.group().decode())
            except (KeyError_, ValueError):
                continue

    def value(self, value: str) -> str:
        """The value with every sealed token in it opened (a metadata JSON holds several)."""
        if self.sealer is None or "aifx1:" not in value:
            return value
        return TOKEN.sub(lambda m: self._open(m.group()), value)

    def _open(self, token: str) -> str:
        try:
            return self.sealer.open(self.tenant, token) if self.sealer is not None else token
        except (KeyError_, ValueError):
            return token

    def blob(self, data: bytes) -> bytes:
        if self.sealer is None or not data.startswith(BLOB_MAGIC):
            return b""
        try:
            return self.sealer.open_bytes(self.tenant, data)
        except (KeyError_, ValueError):
            return b""


class Spellings:
    """The forms an identifier is searched in: as given (visible form, case-folded),
    percent-encoded, and for numbers without separators."""

    def __init__(self, identifier: str) -> None:
        value = visible(identifier).strip().casefold()
        forms = {value, quote(value).casefold(), quote(value, safe="").casefold()}
        self.compact = "" if "@" in value else _SEPARATORS.sub("", value)
        self.forms = sorted(f for f in forms if f)
        self._bytes = [f.encode() for f in self.forms]

    def in_bytes(self, data: bytes) -> bool:
        lowered = data.lower()
        if any(f in lowered for f in self._bytes):
            return True
        for piece in _ZEROS.split(data):
            if piece.isascii() and b"%" not in piece and not self.compact:
                continue  # nothing hidden: no invisible or wide characters, no escapes
            if self.in_text(piece.decode("utf-8", "replace")):
                return True
        return False

    def in_text(self, text: str) -> bool:
        for variant in _readings(text):
            if any(f in variant for f in self.forms):
                return True
            if self.compact and self.compact in _SEPARATORS.sub("", variant):
                return True
        return False


def _readings(text: str) -> Iterator[str]:
    yield text.casefold()
    shown = visible(text).casefold() if not text.isascii() else text.casefold()
    yield shown
    if "%" in shown:
        yield visible(unquote(shown)).casefold()


@dataclass
class Proof:
    """What the scan searched and where the subject is still written (paths relative to
    the data directory; never the value itself)."""

    files: int = 0
    bytes: int = 0
    found: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)  # Parquet that cannot be decoded: bytes only
    broker: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def prove(home: Path, tenant: str, spellings: Spellings, *, broker: str, lake: Lake | None = None) -> Proof:
    """Searches `home`, and the lake's object storage when it is not a folder under home
    (found there: the object's URI)."""
    proof = Proof(broker=broker)
    opener = _Opener(lake.sealer if lake is not None else None, tenant)
    if lake is not None and not lake.store.local:
        _prove_objects(lake, tenant, spellings, proof, opener)
    for path in sorted(home.rglob("*")):
        if not path.is_file() or path.is_symlink() or _other_tenant(path.relative_to(home), tenant):
            continue
        proof.files += 1
        proof.bytes += path.stat().st_size
        rel = path.relative_to(home).as_posix()
        if _bytes_hold(path, spellings, opener):
            proof.found.append(rel)
        elif path.suffix == ".parquet":
            try:
                if any(spellings.in_text(t) for t in parquet_texts(path, opener)):
                    proof.found.append(rel)
            except (OSError, pa.ArrowException):
                proof.unverified.append(rel)
    return proof


def _prove_objects(lake: Lake, tenant: str, spellings: Spellings, proof: Proof, opener: _Opener) -> None:
    for stored in lake.store.listing(""):
        if _other_tenant(PurePosixPath(stored.key), tenant):
            continue
        data = lake.read_bytes(stored.key)
        proof.files += 1
        proof.bytes += len(data)
        if spellings.in_bytes(data) or spellings.in_bytes(opener.blob(data)) or \
                any(spellings.in_text(t) for t in opener.texts(data)):
            proof.found.append(lake.uri(stored.key))
        elif stored.key.endswith(".parquet"):
            try:
                if any(spellings.in_text(t) for t in parquet_texts(pa.BufferReader(data), opener)):
                    proof.found.append(lake.uri(stored.key))
            except (OSError, pa.ArrowException):
                proof.unverified.append(lake.uri(stored.key))


def _other_tenant(rel: PurePath, tenant: str) -> bool:
    return any(p.startswith("tenant=") and p != f"tenant={tenant}" for p in rel.parts)


def _bytes_hold(path: Path, spellings: Spellings, opener: _Opener | None = None) -> bool:
    with path.open("rb") as fh:
        if opener is not None and fh.read(len(BLOB_MAGIC)) == BLOB_MAGIC:  # a sealed dead-letter copy
            fh.seek(0)
            if spellings.in_bytes(opener.blob(fh.read())):
                return True
        fh.seek(0)
        tail = b""
        while block := fh.read(_BLOCK):
            if spellings.in_bytes(tail + block):
                return True
            if opener is not None and any(spellings.in_text(t) for t in opener.texts(tail + block)):
                return True
            tail = block[-_SEALED_OVERLAP:]
    return False


def parquet_texts(path: Path | pa.NativeFile, opener: _Opener | None = None) -> Iterator[str]:
    """The decompressed values of every string column of a Parquet file, a batch at a time
    (sealed ones opened, with an `opener`)."""
    parquet = pq.ParquetFile(path)
    names = [f.name for f in parquet.schema_arrow if _stringish(f.type)]
    if not names:
        return
    for batch in parquet.iter_batches(batch_size=4096, columns=names):
        for column in batch.columns:
            values = column.flatten() if pa.types.is_list(column.type) else column
            yield "\n".join((opener.value(v) if opener is not None else v) for v in values.to_pylist() if v)


def _stringish(kind: pa.DataType) -> bool:
    if pa.types.is_list(kind):
        return _stringish(kind.value_type)
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))

