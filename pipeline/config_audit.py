"""Configuration changes in the audit log. Each process that starts work on a home
(a run, a stage, the API, a Dagster step) compares its settings and the policy files
it obeys (residency, privacy, quotas, price book, carbon series) with those last seen
on this home from this host, and when they differ appends one `config.changed` entry
naming what changed. Per host: workers on several hosts may differ in what is theirs
(the compute region, the device) without each start of one counting as a change. The
comparison holds a lock, so of several processes started on one host with the same new
settings only the first records them.

Secrets (passwords, API keys, the PII secret) are compared and recorded by a digest,
never in clear. A home's first start records its whole configuration the same way.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from pipeline.settings import FactorySettings

# Not configuration: where the home is, and --no-wait, a flag of one command.
IGNORED = {"home", "writer_wait"}


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()[:16]


def _flat(values: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for name, value in values.items():
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}{name}.")
        elif isinstance(value, SecretStr):
            secret = value.get_secret_value()
            yield f"{prefix}{name}", _digest(secret.encode()) if secret else ""
        else:
            yield f"{prefix}{name}", "" if value is None else str(value)


def _file(path: Path) -> str:
    try:
        return _digest(path.read_bytes())
    except FileNotFoundError:
        return "absent"
    except OSError as exc:
        return f"unreadable ({type(exc).__name__})"


def fingerprint(settings: FactorySettings) -> dict[str, str]:
    """Every setting (secrets as digests) and the digest of each policy file in force."""
    seen = {k: v for k, v in _flat(settings.model_dump()) if k not in IGNORED}
    if settings.kafka.embedded:
        seen.pop("kafka.bootstrap_servers", None)  # the embedded broker's port is new each time
    files = {"residency_policy": settings.residency_policy, "price_book": settings.price_book,
             "quotas": settings.quotas or settings.home / "governance" / "quotas.yaml",
             "privacy_policy": settings.transforms.privacy_policy}
    if settings.carbon_intensity and "://" not in settings.carbon_intensity:
        files["carbon_intensity"] = Path(settings.carbon_intensity)
    seen |= {f"file:{name}": _file(Path(path)) for name, path in files.items() if path}
    return seen


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def audit_config(settings: FactorySettings, audit: Any, service: str) -> dict[str, dict[str, str]]:
    """Append `config.changed` when the configuration differs from the last seen on this
    home from this host; return what changed (name -> from, to), empty when nothing did."""
    host = re.sub(r"[^\w.-]", "_", socket.gethostname()) or "host"
    state = settings.home / "state" / "config-seen" / f"{host}.json"
    now = fingerprint(settings)
    with _locked(state):
        try:
            before = json.loads(state.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            before = {}
        changed = {k: {"from": before.get(k, ""), "to": now.get(k, "")}
                   for k in sorted(set(before) | set(now)) if before.get(k, "") != now.get(k, "")}
        if not changed and before:
            return {}
        audit.append("config.changed", "*", service=service, host=host, first=not before, changed=changed)
        tmp = state.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(now, sort_keys=True), encoding="utf-8")
        os.replace(tmp, state)
    return changed
