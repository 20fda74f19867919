"""`aifactory status` as a person reads it."""

from __future__ import annotations

from typing import Any

from aifactory.ask import format_status


def status(quarantined: int) -> dict[str, Any]:
    counts = {"events": 12, "documents": 10, "chunk_rows": 40, "current_chunks": 31, "quarantined": quarantined,
              "dead_letters": 1, "points": 31}
    return {"home": "data", "model": "all-MiniLM-L6-v2", "tenants": {"acme": counts},
            "lake": {"repeated_keys": {}}, "in_use": {"index": None, "writer": None, "services": []}}


def test_status_counts_the_quarantined_chunks_and_says_how_to_see_them() -> None:
    """Chunks held back as suspected prompt injection were missing from the human-readable
    status: a user saw fewer search results than chunks and no reason why."""
    text = format_status(status(2))
    header, row = text.splitlines()[2:4]
    assert header.split()[-1] == "quar." and row.split()[-1] == "2"
    assert "2 chunk(s) quarantined" in text and "--include-quarantined" in text
    assert "quarantined as" not in format_status(status(0))
