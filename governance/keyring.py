"""Per-tenant keys for encryption at rest: envelope encryption, as every KMS does it.

- **Master keys** (one per tenant, versioned) live in a key manager outside the data
  directory: `LocalKms` (files under AIFACTORY_KMS_DIR, default
  `~/.config/aifactory/kms/<home id>/`), or any KMS or Vault behind the `KeyManager`
  contract (README "Encryption at rest").
- **Data keys** (AES-256-GCM) are made by `DataKeys`, kept in the data directory only
  wrapped by their tenant's master key (`<home>/keys/data-keys/<tenant>.json`), and
  unwrapped in memory when used.

Rotation: `rotate` gives the tenant a new master version and a new data key for new
writes, with no pause (old data keys still open what they sealed); `rewrap` wraps every
data key of the tenant under the newest master version and destroys the older ones.
Shredding destroys the tenant's master keys: every wrapped data key, and so every value
sealed with them wherever a copy lies, is unreadable at once.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from governance.errors import GovernanceError
from governance.names import valid_name


class KeyError_(GovernanceError):
    """A key cannot be had or used: the message names the tenant and what to do."""


class ShreddedError(KeyError_):
    """The tenant's keys were destroyed: what was sealed for it is unreadable for good."""


class KeyManager(Protocol):
    """The key manager's contract (a local store, a cloud KMS, Vault's transit engine):
    master keys never leave it; it wraps and unwraps data keys under a tenant's master key."""

    def wrap(self, tenant: str, key: bytes) -> str: ...       # under the newest master version
    def unwrap(self, tenant: str, wrapped: str) -> bytes: ...  # ShreddedError once destroyed
    def rotate(self, tenant: str) -> int: ...                  # a new master version; returns it
    def retire(self, tenant: str, below: int) -> int: ...      # destroy versions under `below`
    def destroy(self, tenant: str) -> int: ...                 # every version; returns how many
    def shredded(self, tenant: str) -> bool: ...


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One writer at a time across processes (a key file is read, changed, written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_private(path: Path, doc: dict[str, object]) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _scrub(path: Path) -> None:
    """Overwrite, then remove: the bytes of a destroyed key do not stay on the disk's free list
    longer than the file system keeps them (copy-on-write file systems and SSDs may; a KMS
    whose keys live in hardware is the answer there)."""
    if not path.exists():
        return
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.write(secrets.token_bytes(max(size, 1)))
        fh.flush()
        os.fsync(fh.fileno())
    path.unlink()


class LocalKms:
    """Master keys in files, one per tenant, outside the data directory (mode 0600)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, tenant: str) -> Path:
        if not valid_name(tenant):
            raise KeyError_(f"tenant {tenant!r} is not a plain name")
        return self.root / f"{tenant}.json"

    def _tombstone(self, tenant: str) -> Path:
        return self.root / f"{tenant}.shredded"

    def _load(self, tenant: str) -> dict[str, str]:
        path = self._path(tenant)
        if self._tombstone(tenant).exists():
            raise ShreddedError(f"tenant {tenant!r} was shredded: its keys are destroyed and its sealed "
                                "data cannot be read")
        if not path.exists():
            return {}
        return dict(json.loads(path.read_text())["versions"])

    def _master(self, tenant: str, create: bool) -> tuple[int, bytes]:
        versions = self._load(tenant)
        if not versions and create:
            with _locked(self._path(tenant)):
                versions = self._load(tenant)
                if not versions:
                    versions = {"1": secrets.token_hex(32)}
                    _write_private(self._path(tenant), {"versions": versions})
        if not versions:
            raise KeyError_(f"no master key for tenant {tenant!r} in {self.root}; restore the key store "
                            "(AIFACTORY_KMS_DIR) from its backup")
        newest = max(versions, key=int)
        return int(newest), bytes.fromhex(versions[newest])

    def wrap(self, tenant: str, key: bytes) -> str:
        version, master = self._master(tenant, create=True)
        nonce = secrets.token_bytes(12)
        return f"v{version}:{_b64(nonce + AESGCM(master).encrypt(nonce, key, tenant.encode()))}"

    def unwrap(self, tenant: str, wrapped: str) -> bytes:
        head, _, body = wrapped.partition(":")
        versions = self._load(tenant)
        master = versions.get(head.removeprefix("v"))
        if master is None:
            raise KeyError_(f"master key {head} of tenant {tenant!r} is not in {self.root} (retired before a "
                            "rewrap finished, or the key store was not restored); run `aifactory tenant rewrap`")
        data = _unb64(body)
        try:
            return AESGCM(bytes.fromhex(master)).decrypt(data[:12], data[12:], tenant.encode())
        except InvalidTag:
            raise KeyError_(f"a data key of tenant {tenant!r} does not open with its master key: the key "
                            "store or the data directory was altered") from None

    def rotate(self, tenant: str) -> int:
        with _locked(self._path(tenant)):
            versions = self._load(tenant)
            version = max((int(v) for v in versions), default=0) + 1
            versions[str(version)] = secrets.token_hex(32)
            _write_private(self._path(tenant), {"versions": versions})
        return version

    def retire(self, tenant: str, below: int) -> int:
        with _locked(self._path(tenant)):
            versions = self._load(tenant)
            kept = {v: k for v, k in versions.items() if int(v) >= below}
            if len(kept) < len(versions):
                _write_private(self._path(tenant), {"versions": kept})
        return len(versions) - len(kept)

    def destroy(self, tenant: str) -> int:
        path = self._path(tenant)
        with _locked(path):
            try:
                n = len(self._load(tenant))
            except ShreddedError:
                return 0
            self.root.mkdir(parents=True, exist_ok=True)
            self._tombstone(tenant).write_text("destroyed\n")
            _scrub(path)
        return n

    def shredded(self, tenant: str) -> bool:
        return self._tombstone(tenant).exists()


class DataKeys:
    """A tenant's data keys, wrapped, in the data directory; the newest seals new values."""

    def __init__(self, root: Path, kms: KeyManager) -> None:
        self.root, self.kms = Path(root), kms
        self._open: dict[tuple[str, str], bytes] = {}
        self._seen: dict[str, tuple[int, int]] = {}  # tenant -> (inode, mtime) of the file read
        self._current: dict[str, str] = {}  # tenant -> the data key id new values are sealed with

    def _path(self, tenant: str) -> Path:
        if not valid_name(tenant):
            raise KeyError_(f"tenant {tenant!r} is not a plain name")
        return self.root / f"{tenant}.json"

    def _doc(self, tenant: str) -> dict[str, object]:
        path = self._path(tenant)
        return dict(json.loads(path.read_text())) if path.exists() else {"current": "", "keys": {}}

    def _fresh(self, tenant: str) -> None:
        """Forget unwrapped keys when the tenant's file changed (rotated or shredded elsewhere)."""
        try:
            st = self._path(tenant).stat()
            mark = (st.st_ino, st.st_mtime_ns)
        except FileNotFoundError:
            mark = (0, 0)
        if self._seen.get(tenant) != mark:
            self._seen[tenant] = mark
            self._current.pop(tenant, None)
            for k in [k for k in self._open if k[0] == tenant]:
                del self._open[k]

    def current(self, tenant: str) -> tuple[str, bytes]:
        """(key id, key) that seals new values of `tenant`, made on first use."""
        self._fresh(tenant)
        kid = self._current.get(tenant) or str(self._doc(tenant)["current"])
        if not kid:
            if self.shredded(tenant):
                raise ShreddedError(f"tenant {tenant!r} was shredded: nothing more is stored for it")
            kid = self.add(tenant)
        key = self.key(tenant, kid)
        self._current[tenant] = kid
        return kid, key

    def add(self, tenant: str) -> str:
        """A new data key, wrapped under the newest master version, made current."""
        with _locked(self._path(tenant)):
            doc = self._doc(tenant)
            kid = secrets.token_hex(4)
            keys = dict(doc["keys"])  # type: ignore[call-overload]
            keys[kid] = self.kms.wrap(tenant, secrets.token_bytes(32))
            _write_private(self._path(tenant), {"current": kid, "keys": keys})
        return kid

    def key(self, tenant: str, kid: str) -> bytes:
        self._fresh(tenant)
        if (tenant, kid) not in self._open:
            if self.shredded(tenant):
                raise ShreddedError(f"tenant {tenant!r} was shredded: its data cannot be read")
            wrapped = dict(self._doc(tenant)["keys"]).get(kid)  # type: ignore[call-overload]
            if wrapped is None:
                raise KeyError_(f"data key {kid} of tenant {tenant!r} is not in {self.root}; restore "
                                "the data directory's keys/ folder from its backup")
            self._open[(tenant, kid)] = self.kms.unwrap(tenant, wrapped)
        return self._open[(tenant, kid)]

    def rotate(self, tenant: str) -> str:
        """A new master version and a new data key under it for new writes; what was
        sealed before still opens with its own data key."""
        self.kms.rotate(tenant)
        return self.add(tenant)

    def rewrap(self, tenant: str) -> int:
        """Every data key wrapped again under the newest master version; then the older
        master versions are destroyed. Returns how many data keys were rewrapped."""
        with _locked(self._path(tenant)):
            doc = self._doc(tenant)
            keys = {kid: self.kms.wrap(tenant, self.key(tenant, kid))
                    for kid in dict(doc["keys"])}  # type: ignore[call-overload]
            _write_private(self._path(tenant), {"current": doc["current"], "keys": keys})
        if keys:  # each wrap names the master version it used: the newest
            self.kms.retire(tenant, min(int(w.split(":")[0][1:]) for w in keys.values()))
        return len(keys)

    def drop_others(self, tenant: str) -> list[str]:
        """Destroy every data key of the tenant but the current one (after a reseal):
        whatever they sealed and was not sealed again is unreadable. Returns their ids."""
        with _locked(self._path(tenant)):
            doc = self._doc(tenant)
            keys = dict(doc["keys"])  # type: ignore[call-overload]
            dropped = sorted(k for k in keys if k != doc["current"])
            _write_private(self._path(tenant), {"current": doc["current"],
                                                "keys": {k: v for k, v in keys.items() if k not in dropped}})
        self._fresh(tenant)
        return dropped

    def kids(self, tenant: str) -> list[str]:
        return sorted(dict(self._doc(tenant)["keys"]))  # type: ignore[call-overload]

    def forget(self, tenant: str) -> None:
        """Scrub the tenant's wrapped data keys, and leave a mark: its sealed values are then
        known to be shredded here even by a process pointed at another key store."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._tombstone(tenant).write_text("shredded\n")
        _scrub(self._path(tenant))
        self._fresh(tenant)

    def _tombstone(self, tenant: str) -> Path:
        return self.root / f"{tenant}.shredded"

    def shredded(self, tenant: str) -> bool:
        return self._tombstone(tenant).exists() or self.kms.shredded(tenant)
