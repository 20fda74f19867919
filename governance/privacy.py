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
no sink holds more than the policy allows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from governance.contracts import DocumentEvent, content_hash
from governance.errors import GovernanceError
from governance.pii import PII_KINDS, redact

DEFAULT_MODES = {"email": "mask", "phone": "mask", "iban": "hash", "card": "mask", "ip": "mask",
                 "national_id": "mask"}


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
        doc = {"default": self.default, "jurisdictions": self.jurisdictions, "tenants": self.tenants}
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


def apply_privacy(event: DocumentEvent, policy: PrivacyPolicy, secret: bytes) -> DocumentEvent:
    """The event with its title and text redacted; idempotent. Raises DropDocument."""
    if event.op != "upsert":
        return event
    modes = policy.modes(event.tenant, event.jurisdiction)
    key = tenant_key(secret, event.tenant)
    text = redact(event.text, modes, key=key)
    title = redact(event.title, modes, key=key)
    subjects = sorted(set(event.subjects) | text.subjects | title.subjects)
    if text.text == event.text and title.text == event.title:
        return event if subjects == event.subjects else event.model_copy(update={"subjects": subjects})
    counts = dict(event.pii)
    for kind, n in (text.counts | {k: text.counts.get(k, 0) + v for k, v in title.counts.items()}).items():
        counts[kind] = counts.get(kind, 0) + n
    return event.model_copy(update={"text": text.text, "title": title.text, "pii": counts,
                                    "subjects": subjects, "content_hash": content_hash(text.text)})
