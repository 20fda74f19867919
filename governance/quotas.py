"""Quotas per tenant, from a YAML file the operator edits while everything runs: each
reader looks at the file's modification time and reads it again when it changed, so a
new limit holds from the next request or scan, with no restart.

    default:                    # every tenant not named below
      queries_per_second: 20
      query_burst: 40
    tenants:
      acme:
        queries_per_second: 5   # /v1/search and /v1/rag/context, all of the tenant's keys together
        query_burst: 10         # requests at once before the rate applies (default: the rate, at least 1)
        ingest_tokens_per_day: 200000   # model tokens of documents published per UTC day
        stored_vectors: 1000000         # points in the index, every region; checked before publishing
        monthly_budget: 250             # cost this UTC month, in the price book's currency

A limit left out is no limit. Enforced: queries in the API (429 with Retry-After naming
the quota; 402 once the month's budget is spent), ingest tokens, stored vectors and the
budget at the edge (a document over the quota goes
to the dead letters naming the quota, and is published by a later scan once it allows).
The stored-vectors quota is checked before publishing against the last storage figure,
so it stops new documents once it is reached; a run begun under it may pass it by that
run's own chunks.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from governance.errors import GovernanceError

log = logging.getLogger(__name__)


class QuotaError(GovernanceError):
    """The quota file cannot be read or names an unknown limit."""


class QuotaExceeded(GovernanceError):
    """A tenant used its quota: the message names the quota, the use and what to do."""


@dataclass(frozen=True)
class Quota:
    queries_per_second: float | None = None
    query_burst: int | None = None
    ingest_tokens_per_day: int | None = None
    stored_vectors: int | None = None
    monthly_budget: float | None = None

    @property
    def burst(self) -> int:
        return self.query_burst or max(1, int(self.queries_per_second or 1))


LIMITS = tuple(f.name for f in fields(Quota))


def _quota(spec: object, where: str) -> Quota:
    if spec is None:
        return Quota()
    if not isinstance(spec, dict):
        raise QuotaError(f"{where} must be a mapping of limits ({', '.join(LIMITS)})")
    unknown = sorted(set(spec) - set(LIMITS))
    if unknown:
        raise QuotaError(f"{where}: unknown limit(s) {', '.join(map(str, unknown))}; known: {', '.join(LIMITS)}")
    values: dict[str, float | int] = {}
    for name, value in spec.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise QuotaError(f"{where}.{name}: {value!r} is not a number of 0 or more")
        if name in ("queries_per_second", "query_burst") and value == 0:
            raise QuotaError(f"{where}.{name}: 0 would refuse every query; revoke the tenant's keys instead")
        values[name] = float(value) if name in ("queries_per_second", "monthly_budget") else int(value)
    return Quota(**values)  # type: ignore[arg-type]


def parse(text: str, where: str) -> tuple[Quota, dict[str, Quota]]:
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise QuotaError(f"{where} is not YAML: {exc}") from None
    if not isinstance(doc, dict) or set(doc) - {"default", "tenants"}:
        raise QuotaError(f"{where}: a quota file has `default` and `tenants` at its top, nothing else")
    tenants = doc.get("tenants") or {}
    if not isinstance(tenants, dict):
        raise QuotaError(f"{where}: `tenants` must map tenant names to limits")
    return _quota(doc.get("default"), f"{where}: default"), \
        {str(t): _quota(spec, f"{where}: tenants.{t}") for t, spec in tenants.items()}


class QuotaBook:
    """The quotas of `path` (none when the file does not exist), read again when it changes.
    A file that turns bad keeps the last good quotas and says why in `problem`."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.problem = ""
        self._seen: tuple[int, int] | None = None
        self._default: Quota = Quota()
        self._tenants: dict[str, Quota] = {}
        self._lock = threading.Lock()
        self._refresh()

    def for_tenant(self, tenant: str) -> Quota:
        self._refresh()
        return self._tenants.get(tenant, self._default)

    def _refresh(self) -> None:
        if self.path is None:
            return
        try:
            st = self.path.stat()
        except FileNotFoundError:
            with self._lock:
                self._seen, self._default, self._tenants, self.problem = None, Quota(), {}, ""
            return
        mark = (st.st_mtime_ns, st.st_size)
        if mark == self._seen:
            return
        with self._lock:
            if mark == self._seen:
                return
            try:
                self._default, self._tenants = parse(self.path.read_text(encoding="utf-8"), str(self.path))
                self.problem = ""
            except (OSError, QuotaError) as exc:
                if self._seen is None:
                    raise QuotaError(str(exc)) from None
                self.problem = f"{exc}; the quotas read before stay in force"
                log.warning("%s", self.problem)
            self._seen = mark
