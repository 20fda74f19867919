"""Dataset names by the OpenLineage naming spec, so that the CLI, the services and Dagster
name the same topic, lake table or collection the same way and a lineage server joins
their events into one graph:

    Kafka topic        kafka://{first bootstrap server}      {topic}
    embedded broker    kafka://{home-hash}.embedded.{host}   {topic}
    local file/folder  file://{host}                        {absolute path}
    S3 object/prefix   s3://{bucket}                        {key}
    Qdrant collection  {server URL}                         {collection}
    Qdrant Edge shard  file://{host}                        {absolute path of the shard}

The embedded broker has no address of its own (a fresh port each command, its records
held for that command only), so it is named by its host and data directory: two homes on
one machine never share a node. Pure functions, no I/O beyond the host name.
"""

from __future__ import annotations

import hashlib
import socket
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit


@cache
def host() -> str:
    """This machine's name, the authority of its file URIs."""
    return socket.gethostname().lower() or "localhost"


def file_dataset(path: Path | str) -> tuple[str, str]:
    return f"file://{host()}", str(Path(path).absolute())


def url_dataset(url: str) -> tuple[str, str]:
    """A file:// or s3:// URL (a lake place, a table in it) as namespace and name."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return file_dataset(unquote(parts.path))
    if parts.scheme in ("s3", "s3a", "gs", "abfs"):
        return f"{parts.scheme.replace('s3a', 's3')}://{parts.netloc}", unquote(parts.path).lstrip("/")
    return f"{parts.scheme}://{parts.netloc}", unquote(parts.path) or "/"


def kafka_namespace(bootstrap_servers: str, home: Path) -> str:
    first = next((s.strip() for s in bootstrap_servers.split(",") if s.strip()), "")
    if first:
        return f"kafka://{first.split('://')[-1].lower()}"
    digest = hashlib.sha256(str(Path(home).absolute()).encode()).hexdigest()[:12]
    return f"kafka://{digest}.embedded.{host()}"


def qdrant_namespace(url: str) -> str:
    """A Qdrant server by its URL, without a trailing slash or path."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme or 'http'}://{(parts.netloc or parts.path).lower()}"
