"""An export of the audit log that an auditor verifies offline, without the data
directory and without the operator's secret audit key.

The log's own entries are HMACs under a secret key: whoever can check them can forge
them. So an export is signed with Ed25519, whose private key is derived from the audit
key (HKDF) and whose public key the operator hands the auditor once
(`aifactory audit public-key`). The export is made only from a log that verifies; it
holds every entry, the head, and a signature over all of it. Offline, `aifactory audit
verify --export FILE --public-key HEX` checks the signature, the numbering and the
chain of `prev` links, so an export altered, cut, reordered or re-signed with another
key after it left the operator is caught.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from governance.audit import GENESIS, AuditLog
from governance.contracts import utcnow
from governance.errors import GovernanceError

FORMAT = "aifactory-audit-export/1"


class AuditExportError(GovernanceError):
    """An export that cannot be made (the log does not verify) or read."""


def signing_key(audit_key: bytes) -> Ed25519PrivateKey:
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"aifactory audit export").derive(audit_key)
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key(audit_key: bytes) -> str:
    raw = signing_key(audit_key).public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex()


def _body(doc: dict[str, Any]) -> bytes:
    return json.dumps({k: v for k, v in doc.items() if k != "signature"}, sort_keys=True,
                      separators=(",", ":")).encode()


def export(log: AuditLog, out: Path) -> dict[str, Any]:
    """Write the signed export of a log that verifies; raise AuditExportError when it does not."""
    result = log.verify()
    if not result.ok:
        raise AuditExportError(f"the audit log does not verify ({result.problem}); an export would vouch for it. "
                               f"Give the auditor {log.path} as it is, with `aifactory audit verify`'s finding")
    entries = list(log.entries())
    doc: dict[str, Any] = {
        "format": FORMAT, "exported_at": utcnow().isoformat(), "log": str(log.path), "entries": entries,
        "head": {"seq": entries[-1]["seq"] if entries else 0, "hash": entries[-1]["hash"] if entries else GENESIS},
        "note": result.note, "public_key": public_key(log.key)}
    doc["signature"] = signing_key(log.key).sign(_body(doc)).hex()
    if not out.parent.is_dir():
        raise AuditExportError(f"cannot write {out}: the folder {out.parent} does not exist; create it, or give "
                               "--out a file in a folder that does")
    tmp = out.with_name(out.name + ".tmp")
    try:
        tmp.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise AuditExportError(f"cannot write {out}: {exc.strerror}; give --out a file you may write") from exc
    return doc


@dataclass(frozen=True)
class ExportCheck:
    ok: bool
    entries: int
    problem: str = ""
    key_trusted: bool = False  # the public key was given, not only read from the file
    fingerprint: str = ""  # SHA-256 of the public key, to compare with the operator's


def verify_export(path: Path, trusted_key: str = "") -> ExportCheck:
    """Check an export offline: its signature (under `trusted_key` when given), numbering and chain."""
    if trusted_key and not re.fullmatch(r"[0-9a-fA-F]{64}", trusted_key):
        return ExportCheck(False, 0, "--public-key is not a public key: give the 64 hex digits "
                           "`aifactory audit public-key` printed")
    try:
        doc = json.loads(path.read_bytes().decode("utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            return ExportCheck(False, 0, f"{path} is not an audit export ({FORMAT})")
        key_hex = trusted_key or str(doc.get("public_key", ""))
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex))
        entries = doc["entries"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        return ExportCheck(False, 0, f"{path} cannot be read as an audit export ({type(exc).__name__}: {exc})")
    trusted, fingerprint = bool(trusted_key), hashlib.sha256(bytes.fromhex(key_hex)).hexdigest()[:32]

    def broken(entries: int, problem: str) -> ExportCheck:
        return ExportCheck(False, entries, problem, trusted, fingerprint)

    if trusted_key and trusted_key.lower() != doc.get("public_key"):
        return broken(0, "the export was signed with another key than the operator's")
    try:
        key.verify(bytes.fromhex(str(doc.get("signature", ""))), _body(doc))
    except (InvalidSignature, ValueError):
        return broken(0, "the signature does not hold: the export was altered after it was made")
    prev: object = GENESIS
    for n, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or entry.get("seq") != n or entry.get("prev") != prev:
            return broken(n - 1, f"entry {n} is missing or out of place")
        prev = entry.get("hash")
    head = doc.get("head") or {}
    if head.get("seq") != len(entries) or head.get("hash") != (prev if entries else GENESIS):
        return broken(len(entries), "the head does not name the last entry")
    return ExportCheck(True, len(entries), "", trusted, fingerprint)
