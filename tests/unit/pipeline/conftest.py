from __future__ import annotations

from typing import Any

import pytest

from ingest.lake import Lake


@pytest.fixture
def lake_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The lake tables each query opened, in order."""
    opened: list[str] = []
    connect = Lake.connect

    def counting(self: Lake, *specs: Any) -> Any:
        opened.extend(s.name for s in specs)
        return connect(self, *specs)

    monkeypatch.setattr(Lake, "connect", counting)
    return opened
