"""Zip and gzip files, opened with suspicion: entry count, total size and
expansion ratio are capped while reading (headers can lie), and an entry whose
path would leave the archive's folder rejects the whole archive."""

from __future__ import annotations

import gzip
import io
import zipfile
import zlib
from pathlib import PurePosixPath
from typing import IO

from ingest.errors import SourceError
from ingest.limits import Limits

CHUNK = 1 << 16


def _read_capped(stream: IO[bytes] | gzip.GzipFile, name: str, compressed: int, limits: Limits,
                 already: int = 0) -> bytes:
    """Read a member, stopping as soon as it passes a limit; `already` is what the
    archive's earlier members used up."""
    out = bytearray()
    while block := stream.read(CHUNK):
        out += block
        limits.check(name, "uncompressed bytes", already + len(out), "max_archive_bytes")
        if len(out) > 1_000_000:
            limits.check(name, "expansion ratio", len(out) / max(compressed, 1), "max_expansion_ratio")
    return bytes(out)


def safe_entry_name(name: str, archive: str) -> str:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise SourceError(f"{archive}: entry {name!r} would be written outside the archive's folder "
                          "(zip slip); the archive is refused")
    return path.as_posix()


def expand(name: str, data: bytes, limits: Limits) -> list[tuple[str, bytes]]:
    """Entries of a .zip or the member of a .gz, as (inner name, bytes)."""
    if name.lower().endswith(".gz"):
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
                body = _read_capped(gz, name, len(data), limits)
        except (OSError, EOFError, zlib.error) as exc:
            raise SourceError(f"{name}: truncated or corrupt gzip file ({exc}); re-create it") from exc
        return [(name[:-3], body)]
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise SourceError(f"{name}: not a valid zip file ({exc}); re-create it") from exc
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        limits.check(name, "entry count", len(infos), "max_archive_entries")
        entries = []
        total = 0
        for info in infos:
            inner = safe_entry_name(info.filename, name)
            if info.flag_bits & 0x1:
                raise SourceError(f"{name}: entry {inner!r} is encrypted; add a decrypted archive instead")
            try:
                with archive.open(info) as fh:
                    body = _read_capped(fh, f"{name}!{inner}", max(info.compress_size, 1), limits, total)
            except (zipfile.BadZipFile, OSError, zlib.error, EOFError) as exc:
                raise SourceError(f"{name}: entry {inner!r} is corrupt ({exc}); re-create the archive") from exc
            total += len(body)
            entries.append((inner, body))
        return entries
