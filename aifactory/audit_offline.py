"""`aifactory audit verify --export FILE`: an auditor's check of an audit export, run
anywhere: it reads no data directory and needs no audit key (governance/audit_export.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def verify_offline(args: argparse.Namespace) -> int:
    from governance.audit_export import verify_export

    check = verify_export(Path(args.export), args.public_key or "")
    lines = [json.dumps(check.__dict__, indent=1)] if args.json else [
        f"audit export {args.export}: {check.entries} entries, "
        + ("signature and chain intact" if check.ok else f"BROKEN: {check.problem}")]
    if check.ok and not check.key_trusted and not args.json:
        lines.append(f"note: checked with the public key the file carries (fingerprint {check.fingerprint}); "
                     "anyone can sign with a key of their own: pass --public-key with the operator's key "
                     "(`aifactory audit public-key`) to know it is theirs")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0 if check.ok else 1
