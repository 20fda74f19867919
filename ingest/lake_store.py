"""Where the lake's files live: a folder (the default) or object storage, through
pyarrow's filesystems, one place per region where the operator names one.

Files are named by keys: POSIX paths relative to the lake, `raw/region=eu-central/
tenant=a/date=2026-12-06/part-....parquet`. The `region=` part of a key picks its place,
so a region's rows, chunks, dead letters and kept bytes all sit in the region's bucket.

Durability is the same rule on both: `put` returns once the whole file is stored, and
a reader sees a file whole or not at all. A folder gets a temp file, fsync, rename and a
fsync of the folder; object storage gets one upload, which the store makes visible
atomically when it completes. Files are never changed in place, only written under a
new name and removed, so no commit needs more than one object: see README, "Lake on
object storage", for why no table format is used.
"""

from __future__ import annotations

import os
import posixpath
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs

from governance.names import valid_name
from ingest.errors import LakeError

URL_VARIABLE = "AIFACTORY_LAKE_URL"
REGION_VARIABLE = "AIFACTORY_LAKE_REGION_URLS"
LIST_TRIES = 3  # walks of a folder tree that a concurrent writer changed under the walk
# What the S3 client reads itself: the factory never handles the secret.
STORE_VARIABLES = frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
                             "AWS_ENDPOINT_URL"})


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Place:
    """One location: a filesystem and the folder or bucket/prefix the lake starts at."""

    url: str
    fs: pafs.FileSystem
    base: str  # a path of `fs`
    folder: Path | None  # set for a local folder: written with fsync and rename

    def path(self, key: str) -> str:
        return f"{self.base}/{key}" if self.base and key else (self.base or key)

    def uri(self, key: str) -> str:
        if self.folder is not None:
            return (self.folder / key).as_uri()
        return f"{self.url.rstrip('/')}/{key}"


def parse_region_urls(text: str, variable: str = REGION_VARIABLE) -> dict[str, str]:
    """`eu-central=s3://lake-eu/prefix,us-east=s3://lake-us` as a dict; a ValueError names `variable`."""
    found: dict[str, str] = {}
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        region, sep, url = (s.strip() for s in item.partition("="))
        if not sep or not region or not url:
            raise ValueError(f"{variable}: {item!r} is not region=url (example: eu-central=s3://lake-eu/factory)")
        if not valid_name(region):
            raise ValueError(f"{variable}: region {region!r} is not a plain name")
        if region in found:
            raise ValueError(f"{variable}: region {region!r} is named twice")
        check_url(url, variable)
        found[region] = url
    return found


def check_url(url: str, variable: str = URL_VARIABLE) -> None:
    scheme = urlparse(url).scheme
    if scheme not in ("file", "s3", "gs", "abfs"):
        raise ValueError(f"{variable}: {url!r} is not a lake location; use s3://bucket/prefix "
                         "(gs:// and abfs:// work too) or file:///absolute/folder")
    if scheme != "file" and not urlparse(url).netloc:
        raise ValueError(f"{variable}: {url!r} names no bucket; use {scheme}://bucket/prefix")


def open_place(url: str) -> Place:
    """A place from its URL. Object-store credentials and endpoint come from the
    client's own settings (for S3: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    AWS_REGION, AWS_ENDPOINT_URL), so no secret passes through the factory's settings."""
    if urlparse(url).scheme == "file":
        folder = Path(urlparse(url).path)
        return Place(url=url, fs=pafs.LocalFileSystem(), base=str(folder), folder=folder)
    try:
        fs, base = pafs.FileSystem.from_uri(url)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise LakeError(f"cannot open the lake at {url}: {exc}; check the URL and the store's credentials "
                        "(for S3: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL)") from exc
    return Place(url=url, fs=fs, base=base.rstrip("/"), folder=None)


def region_of(key: str) -> str:
    for part in key.split("/"):
        if part.startswith("region="):
            return part.split("=", 1)[1]
    return ""


class LakeStore:
    """The default place (a folder under the data directory, or AIFACTORY_LAKE_URL), and
    a place per region from AIFACTORY_LAKE_REGION_URLS. With a region map, a region it
    does not name is refused: residency is a place, and no row may fall back to another."""

    def __init__(self, folder: Path, *, url: str = "", region_urls: Mapping[str, str] | None = None) -> None:
        self.default = open_place(url) if url else Place(url=folder.as_uri(), fs=pafs.LocalFileSystem(),
                                                          base=str(folder), folder=folder)
        self.regions = {region: open_place(u) for region, u in (region_urls or {}).items()}

    @property
    def places(self) -> list[Place]:
        seen: dict[str, Place] = {}
        for place in (self.default, *self.regions.values()):
            seen.setdefault(place.url, place)
        return list(seen.values())

    @property
    def local(self) -> bool:
        return all(p.folder is not None for p in self.places)

    def place(self, key: str) -> Place:
        region = region_of(key)
        if not self.regions or region in ("", "unassigned"):
            return self.default
        try:
            return self.regions[region]
        except KeyError:
            raise LakeError(f"region {region!r} has no lake location; add {region}=s3://bucket/prefix to "
                            f"{REGION_VARIABLE} (it names {', '.join(sorted(self.regions))})") from None

    def uri(self, key: str) -> str:
        return self.place(key).uri(key)

    def listing(self, prefix: str, suffix: str = "") -> list[StoredFile]:
        """Every file under `prefix` in every place, sorted by key; temp files left out."""
        found: dict[str, StoredFile] = {}
        for place in self.places:
            selector = pafs.FileSelector(place.path(prefix), recursive=True, allow_not_found=True)
            for attempt in range(LIST_TRIES):
                try:
                    infos = place.fs.get_file_info(selector)
                    break
                except FileNotFoundError as exc:
                    # A writer beside us made or renamed a folder mid-walk (a new table's first
                    # file, a compaction): the next walk sees the tree as it is now.
                    if attempt + 1 < LIST_TRIES:
                        time.sleep(0.05 * (attempt + 1))
                        continue
                    raise self._unlisted(place, prefix, exc) from exc
                except (OSError, pa.ArrowException) as exc:
                    raise self._unlisted(place, prefix, exc) from exc
            for info in infos:
                name = posixpath.basename(info.path)
                if info.type != pafs.FileType.File or name.startswith(".") or not name.endswith(suffix):
                    continue
                key = info.path[len(place.base) + 1:] if place.base else info.path
                found[key] = StoredFile(key, info.size or 0, info.mtime_ns or 0)
        return [found[k] for k in sorted(found)]

    @staticmethod
    def _unlisted(place: Place, prefix: str, exc: BaseException) -> LakeError:
        return LakeError(f"cannot list the lake at {place.uri(prefix)}: {exc}; check {URL_VARIABLE} (or "
                         f"{REGION_VARIABLE}), that the bucket exists, and the store's endpoint and "
                         "credentials (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...)")

    def stat(self, key: str) -> StoredFile | None:
        place = self.place(key)
        info = place.fs.get_file_info(place.path(key))
        return StoredFile(key, info.size or 0, info.mtime_ns or 0) if info.type == pafs.FileType.File else None

    def exists(self, key: str) -> bool:
        return self.stat(key) is not None

    def read_bytes(self, key: str) -> bytes:
        place = self.place(key)
        with place.fs.open_input_stream(place.path(key)) as fh:
            return bytes(fh.read())

    def put(self, key: str, write: Callable[[pa.NativeFile], object]) -> None:
        """Store a whole file under `key`: `write` gets an output stream. Raises LakeError."""
        place = self.place(key)
        if place.folder is not None:
            _durably(place.folder / key, write)
            return
        try:
            sink = pa.BufferOutputStream()
            write(sink)
            data = sink.getvalue()
            with place.fs.open_output_stream(place.path(key)) as out:
                out.write(data)  # visible, whole, when the upload completes at close
        except (OSError, pa.ArrowException) as exc:
            raise LakeError(f"cannot write lake file {place.uri(key)}: {exc}") from exc

    def remove(self, key: str) -> bool:
        """Remove a file; False if it was gone already."""
        place = self.place(key)
        try:
            place.fs.delete_file(place.path(key))
        except FileNotFoundError:
            return False
        if place.folder is not None:
            _fsync_dir((place.folder / key).parent)
        return True

    def move(self, key: str, to: str) -> bool:
        """Move a file within its place; False if it was gone already."""
        place = self.place(key)
        if place.folder is not None:
            (place.folder / to).parent.mkdir(parents=True, exist_ok=True)
        try:
            place.fs.move(place.path(key), place.path(to))
        except FileNotFoundError:
            return False
        return True

    def remove_tree(self, prefix: str) -> None:
        for place in self.places:
            path = place.path(prefix)
            if place.fs.get_file_info(path).type == pafs.FileType.Directory:
                place.fs.delete_dir(path)
            elif place.folder is None:  # object stores have no folders: remove what the prefix holds
                for f in self.listing(prefix):
                    self.remove(f.key)


def _durably(target: Path, write: Callable[[pa.NativeFile], object]) -> None:
    """Write through a temp file, fsync it, rename it into place, fsync the folder.
    The temp file is this writer's own: two runs on one home land the same rows under
    the same derived name, and the second rename then replaces an identical file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(6)}.tmp")
    try:
        with pa.OSFile(str(tmp), "wb") as out:
            write(out)
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except (OSError, pa.ArrowException) as exc:
        tmp.unlink(missing_ok=True)
        raise LakeError(f"cannot write lake file {target}: {exc}") from exc


def write_bytes_durable(data: bytes, target: Path) -> None:
    _durably(target, lambda out: out.write(data))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
