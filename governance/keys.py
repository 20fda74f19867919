"""API keys: one tenant, one role, the regions it may read, and optionally an expiry and
the operations it may do (its scopes, within what its role allows); stored hashed.

A key reads `aif_<key id>_<secret>`. The store keeps the key id, its SHA-256 (the
secret is 32 random bytes, so a plain hash resists guessing; no salt needed) and
its grants, never the key itself, which is shown once at creation. A revoked key
stays in the store, marked, so that its use can be told apart from a wrong key.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, cast

from governance.errors import GovernanceError

Role = Literal["reader", "writer", "auditor", "admin"]
ROLES: tuple[Role, ...] = ("reader", "writer", "auditor", "admin")
PREFIX = "aif_"
# What a key may be used for, and which roles may do it. A key's scopes narrow this; they
# never widen it (a reader scoped to `usage` is refused at creation).
OPERATIONS: dict[str, tuple[Role, ...]] = {
    "search": ("reader", "writer", "admin"),
    "context": ("reader", "writer", "admin"),
    "documents:read": ("reader", "writer", "admin"),
    "documents:write": ("writer", "admin"),
    "documents:delete": ("writer", "admin"),
    "lineage": ("auditor", "admin"),
    "usage": ("admin",),
    "metrics": ("admin",),
}
_SPAN = re.compile(r"(\d+)([hdw])")
UNITS = {"h": "hours", "d": "days", "w": "weeks"}


class ApiKeyError(GovernanceError):
    """A key that cannot be created, found or revoked as asked."""


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    tenant: str
    role: Role
    regions: tuple[str, ...]
    sha256: str
    created_at: str
    revoked_at: str = ""
    name: str = ""
    expires_at: str = ""  # ISO time; empty: never
    scopes: tuple[str, ...] = ()  # operations it may do; empty: all its role allows

    @property
    def revoked(self) -> bool:
        return bool(self.revoked_at)

    def expired(self, now: datetime | None = None) -> bool:
        return bool(self.expires_at) and datetime.fromisoformat(self.expires_at) <= (now or datetime.now(UTC))

    def refusal(self, operation: str) -> str:
        """Why this key may not do `operation` ('' when it may)."""
        roles = OPERATIONS[operation]
        if self.role not in roles:
            return f"{operation} needs one of the roles {', '.join(roles)}; key {self.key_id} has role {self.role}"
        if self.scopes and operation not in self.scopes:
            wider = " ".join(f"--scope {s}" for s in (*self.scopes, operation))  # update replaces the scopes
            return (f"key {self.key_id} is scoped to {', '.join(self.scopes)}, not {operation}; "
                    f"`aifactory keys update {self.key_id} {wider}` widens it")
        return ""

    def public(self) -> dict[str, object]:
        """What may be shown: everything but the hash."""
        return {k: v for k, v in asdict(self).items() if k != "sha256"}


def expiry(text: str, now: datetime | None = None) -> str:
    """An expiry as an ISO time: `30d`, `12h`, `2w` from now, or a date or time (UTC when it
    names no zone); `never` or '' for none."""
    if text in ("", "never"):
        return ""
    now = now or datetime.now(UTC)
    if span := _SPAN.fullmatch(text):
        n, unit = int(span[1]), span[2]
        return (now + timedelta(**{UNITS[unit]: n})).isoformat()
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ApiKeyError(f"expiry {text!r} is neither a span (30d, 12h, 2w) nor a date (2027-01-31); "
                          "`never` for none") from None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    if when <= now:
        raise ApiKeyError(f"expiry {text!r} is in the past; give a later date, or a span such as 90d")
    return when.isoformat()


def check_grants(role: str, scopes: Sequence[str]) -> tuple[str, ...]:
    """The scopes, sorted, when each is an operation the role may do; else a clear error."""
    if role not in ROLES:
        raise ApiKeyError(f"role {role!r} is not one of {', '.join(ROLES)}")
    for scope in scopes:
        if scope not in OPERATIONS:
            raise ApiKeyError(f"scope {scope!r} is not an operation; known: {', '.join(OPERATIONS)}")
        if role not in OPERATIONS[scope]:
            raise ApiKeyError(f"role {role} cannot do {scope} (it needs {', '.join(OPERATIONS[scope])}); "
                              "leave the scope out or choose another role")
    return tuple(sorted(set(scopes)))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse(token: str) -> tuple[str, str] | None:
    """(key id, the whole token) of a well-formed key, else None."""
    if not token.startswith(PREFIX):
        return None
    key_id, sep, rest = token[len(PREFIX):].partition("_")
    return (key_id, token) if sep and key_id and rest else None


class KeyStore:
    """A JSON file of keys under the data directory. Writers (the CLI, a test, a
    second server) may run in several processes at once: each read-modify-write holds
    an exclusive lock on `<file>.lock` and replaces the file atomically, so no create
    or revocation is lost and a reader sees the old file or the new one, whole."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self._lock = threading.Lock()  # guards the cache; the lock file guards the file
        self._keys: dict[str, ApiKey] = {}
        self._stamp: tuple[int, int, int] | None = None

    def _read(self) -> dict[str, ApiKey]:
        try:
            rows = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {r["key_id"]: ApiKey(**{**r, "regions": tuple(r["regions"]), "scopes": tuple(r.get("scopes", ()))})
                for r in rows}

    def _load(self) -> dict[str, ApiKey]:
        """The keys, read again only when the file changed. A rewrite is a new file (new inode):
        mtime alone can stay the same across two writes in one clock tick."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {}
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if stamp != self._stamp:
            self._keys, self._stamp = self._read(), stamp
        return self._keys

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One writer at a time, across threads and processes (each open gets its own flock)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock, also if the process dies

    def _save(self, keys: dict[str, ApiKey]) -> None:
        # A temp name of its own per writer: a shared one lets two writers clobber each other's file.
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}-{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump([asdict(k) for k in keys.values()], fh, indent=1)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(self.path.parent)  # the rename itself survives a crash

    def _update(self, change: Callable[[dict[str, ApiKey]], ApiKey]) -> ApiKey:
        """Apply `change` to the keys as they are on disk now, and write them back."""
        with self._exclusive():
            keys = self._read()
            key = change(keys)
            self._save(keys)
            return key

    def create(self, tenant: str, role: str, regions: list[str], *, name: str = "", expires_at: str = "",
               scopes: Sequence[str] = ()) -> tuple[ApiKey, str]:
        """A new key and its token, which is not kept and cannot be shown again."""
        scopes = check_grants(role, scopes)
        if not tenant:
            raise ApiKeyError("a key belongs to one tenant: pass --tenant")
        if not regions:
            raise ApiKeyError(f"tenant {tenant!r} has no data in any region yet; pass --region R for each region "
                            "the key may read")
        key_id = secrets.token_hex(6)
        token = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        key = ApiKey(key_id=key_id, tenant=tenant, role=cast(Role, role), regions=tuple(sorted(set(regions))),
                     sha256=_digest(token), created_at=datetime.now(UTC).isoformat(), name=name,
                     expires_at=expires_at, scopes=scopes)

        def add(keys: dict[str, ApiKey]) -> ApiKey:
            keys[key_id] = key
            return key

        return self._update(add), token

    def revoke(self, key_id: str) -> ApiKey:
        def mark(keys: dict[str, ApiKey]) -> ApiKey:
            if key_id not in keys:
                raise ApiKeyError(f"no key {key_id!r}; `aifactory keys list` shows the key ids")
            keys[key_id] = replace(keys[key_id], revoked_at=keys[key_id].revoked_at or datetime.now(UTC).isoformat())
            return keys[key_id]

        return self._update(mark)

    def update(self, key_id: str, *, role: str | None = None, regions: Sequence[str] | None = None,
               scopes: Sequence[str] | None = None, expires_at: str | None = None) -> tuple[ApiKey, ApiKey]:
        """(before, after) of a key given a new role, regions, scopes or expiry; a revoked key stays revoked."""
        def change(keys: dict[str, ApiKey]) -> ApiKey:
            if key_id not in keys:
                raise ApiKeyError(f"no key {key_id!r}; `aifactory keys list` shows the key ids")
            old = keys[key_id]
            if old.revoked:
                raise ApiKeyError(f"key {key_id} was revoked on {old.revoked_at}; make a new one")
            new_role = role or old.role
            new_scopes = check_grants(new_role, old.scopes if scopes is None else scopes)
            if regions is not None and not regions:
                raise ApiKeyError("a key reads at least one region")
            keys[key_id] = replace(old, role=cast(Role, new_role), scopes=new_scopes,
                                   regions=old.regions if regions is None else tuple(sorted(set(regions))),
                                   expires_at=old.expires_at if expires_at is None else expires_at)
            return old

        old = self._update(change)
        return old, self._read()[key_id]

    def list(self) -> list[ApiKey]:
        with self._lock:
            return sorted(self._load().values(), key=lambda k: (k.tenant, k.created_at))

    def verify(self, token: str) -> ApiKey | None:
        """The key a token names, if the token is exactly right (revoked keys included)."""
        parsed = parse(token)
        if parsed is None:
            return None
        with self._lock:
            key = self._load().get(parsed[0])
        if key is None or not hmac.compare_digest(key.sha256, _digest(token)):
            return None
        return key


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
