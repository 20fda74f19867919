"""Where the audit log's key and anchors live: outside the data directory, so that write
access to the data directory is not enough to rewrite the log undetected.

- The key: AIFACTORY_AUDIT_KEY (the secret itself, from a secret store), else the file
  AIFACTORY_AUDIT_KEY_FILE, else `~/.config/aifactory/audit.key`, made on first use (32
  random bytes, mode 0600). Give every process that writes or verifies one home the same key.
- The anchors: AIFACTORY_AUDIT_ANCHORS, else `~/.local/state/aifactory/audit-anchors/`, one
  signed head per audit log, named by the log's absolute path.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from pathlib import Path

from governance.errors import GovernanceError


class AuditKeyError(GovernanceError):
    """The audit key cannot be had: nothing privileged may happen unaudited."""


def audit_key() -> bytes:
    given = os.environ.get("AIFACTORY_AUDIT_KEY", "")
    if given:
        return given.encode()
    path = Path(os.environ.get("AIFACTORY_AUDIT_KEY_FILE") or Path.home() / ".config" / "aifactory" / "audit.key")
    try:
        return _read_or_make(path)
    except OSError as exc:
        raise AuditKeyError(f"cannot read or make the audit key {path} ({exc.strerror or exc}); set "
                            "AIFACTORY_AUDIT_KEY_FILE to a writable place outside the data directory, or "
                            "AIFACTORY_AUDIT_KEY") from exc


def _read_or_make(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: read theirs
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
                fh.flush()
                os.fsync(fh.fileno())
    for _ in range(50):  # a process that just made the file may not have written it yet
        key = path.read_text().strip()
        if key:
            return key.encode()
        time.sleep(0.02)
    raise AuditKeyError(f"the audit key file {path} is empty; restore it (or set AIFACTORY_AUDIT_KEY)")


def anchor_path(log: Path) -> Path:
    root = Path(os.environ.get("AIFACTORY_AUDIT_ANCHORS") or
                Path.home() / ".local" / "state" / "aifactory" / "audit-anchors")
    name = hashlib.sha256(str(log.resolve()).encode()).hexdigest()[:24]
    return root / f"{name}.json"
