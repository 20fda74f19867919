"""The privacy policy: what happens to each kind of personal data, per tenant and
jurisdiction. Later entries win: default, then the jurisdiction, then the tenant.

    default: {email: mask, phone: mask, iban: hash, card: mask, ip: mask, national_id: mask}
    jurisdictions:
      US: {national_id: drop}
    tenants:
      helio-eu: {ip: keep}

Modes: mask (`[EMAIL]`), hash (`[EMAIL:<hmac>]`, the same token for the same value
within a tenant, different across tenants), keep, drop (the document is refused and
dead-lettered). The policy is applied at the edge, before an event is published,
and again wherever an event enters from outside (landing, the transform agent), so
no sink holds more than the policy allows. It covers every field that travels: text,
title, metadata keys and values; identifiers (document id, source URI) are hashed
whatever the policy says (see `redact_identifier`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote, unquote

import yaml

from governance.contracts import DocumentEvent, content_hash
from governance.errors import GovernanceError
from governance.pii import PII_KINDS, Redaction, redact, visible

DEFAULT_MODES = {"email": "mask", "phone": "mask", "iban": "hash", "card": "mask", "ip": "mask",
                 "national_id": "mask"}
# Part of the policy's fingerprint: what redaction finds changed (normalised view, identifiers),
# so scan caches written before are ignored and every file is redacted again.
REDACTION_VERSION = "view-ids-1"
# Identifiers are hashed whatever the policy: a mask would merge two files into one id, and
# an id is written where nothing rewrites it (the audit log's hash chain, receipts).
IDENTIFIER_MODES = dict.fromkeys(PII_KINDS, "hash")
# Characters a redacted URI keeps unescaped (a hashed token's brackets are escaped).
_URI_SAFE = ":/?#@!$&'()*+,;=~"
# A file name's extension is not a top-level domain: "jane@example.com.md" names jane@example.com.
_EXTENSION = re.compile(r"((?:\.(?i:md|markdown|txt|text|html?|xml|pdf|csv|tsv|jsonl?|ndjson|zip|gz|tar|tgz|bz2|xz|"
                        r"docx?|xlsx?|pptx?|odt|rtf|eml|msg|log|bin))+)(?=$|[/#?])")


class PrivacyPolicyError(GovernanceError):
    """The privacy policy file cannot be read or names unknown kinds or modes."""


@dataclass(frozen=True)
class PrivacyPolicy:
    default: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_MODES))
    jurisdictions: dict[str, dict[str, str]] = field(default_factory=dict)
    tenants: dict[str, dict[str, str]] = field(default_factory=dict)

    def modes(self, tenant: str, jurisdiction: str) -> dict[str, str]:
        return {**self.default, **self.jurisdictions.get(jurisdiction, {}), **self.tenants.get(tenant, {})}

    @property
    def fingerprint(self) -> str:
        doc = {"default": self.default, "jurisdictions": self.jurisdictions, "tenants": self.tenants,
               "redaction": REDACTION_VERSION}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:12]


def load_privacy_policy(path: Path | None) -> PrivacyPolicy:
    if path is None:
        return PrivacyPolicy()
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        policy = PrivacyPolicy(default={**DEFAULT_MODES, **(doc.get("default") or {})},
                               jurisdictions=dict(doc.get("jurisdictions") or {}),
                               tenants=dict(doc.get("tenants") or {}))
    except (OSError, yaml.YAMLError, AttributeError, TypeError, ValueError) as exc:
        raise PrivacyPolicyError(f"cannot read the privacy policy {path}: {exc!r}") from exc
    for scope in (policy.default, *policy.jurisdictions.values(), *policy.tenants.values()):
        for kind, mode in scope.items():
            if kind not in PII_KINDS or mode not in ("mask", "hash", "keep", "drop"):
                raise PrivacyPolicyError(f"{path}: '{kind}: {mode}' is not a rule; kinds are "
                                         f"{', '.join(PII_KINDS)} and modes mask, hash, keep, drop")
    return policy


def tenant_key(secret: bytes, tenant: str) -> bytes:
    """Each tenant hashes with its own key, so tokens cannot be joined across tenants."""
    return hmac.new(secret, tenant.encode(), hashlib.sha256).digest()


@functools.lru_cache(maxsize=1 << 16)  # a scan asks for every path and record id, every cycle
def redact_identifier(value: str, key: bytes) -> Redaction:
    """`value` (a file path, a record id, a document id) with its PII hashed: stable for one
    tenant key, so ids stay the same across runs."""
    if "@" not in visible(value):  # only an address's TLD can swallow an extension
        return redact(value, IDENTIFIER_MODES, key=key)
    # Between file extensions first, then whole (an address may end in .md, Moldova's TLD).
    pieces = _EXTENSION.split(value)
    first = [p if n % 2 or not p else redact(p, IDENTIFIER_MODES, key=key) for n, p in enumerate(pieces)]
    joined = "".join(p if isinstance(p, str) else p.text for p in first)
    whole = redact(joined, IDENTIFIER_MODES, key=key)
    found = [r for r in first if isinstance(r, Redaction)] + [whole]
    return Redaction(text=whole.text, counts=dict(sum((Counter(r.counts) for r in found), Counter())),
                     subjects=frozenset().union(*(r.subjects for r in found)))


def redact_uri(uri: str, key: bytes) -> Redaction:
    """A URI with its PII hashed; its path is percent-encoded (an @ is %40), so the
    decoded form is what is searched. Unchanged when it holds none."""
    red = redact_identifier(unquote(uri), key)
    return replace(red, text=quote(red.text, safe=_URI_SAFE)) if red.counts else replace(red, text=uri)


def apply_privacy(event: DocumentEvent, policy: PrivacyPolicy, secret: bytes) -> DocumentEvent:
    """The event with its title, text, metadata and identifiers redacted; idempotent.
    Raises DropDocument."""
    if event.op != "upsert":
        # A delete names a document by the id the lake holds (one written before ids were
        # redacted included); rewriting it would delete another document.
        return event
    key = tenant_key(secret, event.tenant)
    doc_id, uri = redact_identifier(event.document_id, key), redact_uri(event.source_uri, key)
    ids = {"document_id": doc_id.text, "source_uri": uri.text}
    modes = policy.modes(event.tenant, event.jurisdiction)
    text = redact(event.text, modes, key=key)
    title = redact(event.title, modes, key=key)
    meta = [(redact(k, modes, key=key), redact(v, modes, key=key)) for k, v in event.metadata.items()]
    found = [doc_id, uri, text, title, *(r for pair in meta for r in pair)]
    subjects = sorted(set(event.subjects).union(*(r.subjects for r in found)))
    counts = sum((Counter(r.counts) for r in found), Counter(event.pii))
    if counts == Counter(event.pii):
        return event if subjects == event.subjects else event.model_copy(update={"subjects": subjects})
    return event.model_copy(update={**ids, "text": text.text, "title": title.text, "pii": dict(counts),
                                    "metadata": {k.text: v.text for k, v in meta}, "subjects": subjects,
                                    "content_hash": content_hash(text.text)})


class EdgeMemo:
    """Digests of raw-topic messages that this process redacted at the edge and then
    published (or read back from its own raw lake). Landing such a message, byte for
    byte, need not redact it again: a 5 MB document takes seconds, under the GIL that
    the producer's network thread needs. Only this process adds to it, so a message
    from any other producer is still redacted. Bounded: the oldest digests go first."""

    def __init__(self, limit: int = 100_000) -> None:
        self._digests: dict[bytes, None] = {}
        self._limit = limit
        self._lock = threading.Lock()

    @staticmethod
    def _digest(value: bytes) -> bytes:
        return hashlib.blake2b(value, digest_size=16).digest()

    def vouch(self, value: bytes) -> None:
        digest = self._digest(value)
        with self._lock:
            self._digests[digest] = None
            while len(self._digests) > self._limit:
                del self._digests[next(iter(self._digests))]

    def vouched(self, value: bytes) -> bool:
        """Whether this process vouched for exactly these bytes; each vouch is used once."""
        digest = self._digest(value)
        with self._lock:
            return self._digests.pop(digest, False) is None
