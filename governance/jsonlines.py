"""JSON Lines files the factory appends to and others read while it writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_objects(path: Path, offset: int = 0) -> list[dict[str, Any]]:
    """Every whole line of `path` (from byte `offset`) that is a JSON object; a line still
    being written, or damaged, is left out. No file: nothing."""
    try:
        with path.open("rb") as f:
            f.seek(offset)
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            out.append(item)
    return out
