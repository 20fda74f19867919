"""The dead-letter table's gateway: every query over the dead letters in the lake
(`ingest.tables.DEAD_LETTERS`), each parameterised, each answering with typed records.
The list for people, which asks the raw and chunk tables whether a letter has been
resolved since, lives with the stage floor, in `pipeline.lake_views`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import duckdb

from ingest.lake import Lake
from ingest.tables import DEAD_LETTERS

_IDS_SQL = "SELECT dead_letter_id FROM dead_letters"
_IDS_OF_SQL = "SELECT dead_letter_id FROM dead_letters WHERE list_contains(?, dead_letter_id)"
_FAILED_EVENTS_SQL = "SELECT DISTINCT event_id FROM dead_letters WHERE event_id <> ''"
_REASONS_OF_EVENTS_SQL = (
    "SELECT event_id, any_value(reason) FROM dead_letters WHERE list_contains(?, event_id) GROUP BY event_id")
_REASONS_SQL = "SELECT stage, error_class, count(*) FROM dead_letters GROUP BY ALL ORDER BY 3 DESC"
_OF_TENANT_SQL = """
SELECT dead_letter_id, event_id, source_uri, content_sha256, reason, original_uri
FROM dead_letters WHERE tenant = ?
"""


@dataclass(frozen=True)
class ReasonCount:
    """How many dead letters one stage wrote for one error class."""

    stage: str
    error_class: str
    count: int


@dataclass(frozen=True)
class LetterTrace:
    """What of a dead letter can name a data subject or a document: its event, the
    source and kept bytes (their digest and URI) and the reason."""

    dead_letter_id: str
    event_id: str
    source_uri: str
    content_sha256: str
    reason: str
    original_uri: str


def _connect(lake: Lake) -> duckdb.DuckDBPyConnection:
    return lake.connect(DEAD_LETTERS)


def letter_ids(lake: Lake, of: Collection[str] | None = None) -> set[str]:
    """Ids of the dead letters in the lake (of those in `of` only, when given)."""
    if of is not None and not (of and lake.files(DEAD_LETTERS)):
        return set()
    with _connect(lake) as con:
        if of is None:
            return {r[0] for r in con.execute(_IDS_SQL).fetchall()}
        return {r[0] for r in con.execute(_IDS_OF_SQL, [sorted(of)]).fetchall()}


def reasons_of_events(lake: Lake, event_ids: list[str]) -> dict[str, str]:
    """Of these events, those whose outcome is a dead letter, with its reason."""
    with _connect(lake) as con:
        return {r[0]: str(r[1]) for r in con.execute(_REASONS_OF_EVENTS_SQL, [event_ids]).fetchall()}


def failed_event_ids(lake: Lake, of: Collection[str] | None = None) -> set[str]:
    """Events whose outcome is a dead letter (of those in `of` only, when given)."""
    if of is not None:
        return set(reasons_of_events(lake, sorted(of))) if of and lake.files(DEAD_LETTERS) else set()
    with _connect(lake) as con:
        return {r[0] for r in con.execute(_FAILED_EVENTS_SQL).fetchall()}


def reasons(lake: Lake) -> list[ReasonCount]:
    """Dead letters per stage and error class, most frequent first."""
    if not lake.files(DEAD_LETTERS):
        return []
    with _connect(lake) as con:
        return [ReasonCount(*r) for r in con.execute(_REASONS_SQL).fetchall()]


def letters_of_tenant(lake: Lake, tenant: str) -> list[LetterTrace]:
    if not lake.files(DEAD_LETTERS):
        return []
    with _connect(lake) as con:
        return [LetterTrace(*r) for r in con.execute(_OF_TENANT_SQL, [tenant]).fetchall()]
