"""Search filters beyond exact match, in one light module (no torch, no index).

A filter maps a payload key to what it must be:

    "section": "Benefits"                       exact match
    "section": ["Benefits", "Leave"]            any of these
    "page": {"gte": 2, "lte": 5}                a range (numbers: page, chunk_no, version)
    "event_time": {"gte": "2026-01-01"}         a range of dates or times (ISO 8601; a date is its midnight UTC)

`exclude` takes the same shapes for what a hit must not be. The tenant is never a key:
it comes from the caller (--tenant or the API key) and is added by the index adapters,
so no filter can widen it. Errors name the key and say what to send instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from vectorstore.errors import VectorStoreError
from vectorstore.modes import FILTER_KEYS

# Keys a range may name: numbers, and the event's time.
NUMBER_KEYS = ("page", "chunk_no", "version")
DATE_KEYS = ("event_time",)
RANGE_KEYS = NUMBER_KEYS + DATE_KEYS
ALL_KEYS = FILTER_KEYS + RANGE_KEYS
BOUNDS = ("gte", "gt", "lte", "lt")
MAX_VALUES = 100  # values of one any-of
# A filter on document_id matches every document a point speaks for, folded ones too.
PAYLOAD_FIELDS = {"document_id": "document_ids"}


class FilterError(VectorStoreError, ValueError):
    """A filter that names an unknown key or gives a value of the wrong shape."""


@dataclass(frozen=True)
class Condition:
    """One condition on one payload field: `values` (any of them) or `bounds` (a range)."""

    field: str
    values: tuple[str, ...] = ()
    bounds: tuple[tuple[str, float | str], ...] = ()
    dates: bool = False  # bounds are RFC 3339 times


def _date(key: str, value: Any) -> str:
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            try:
                when = datetime.combine(date.fromisoformat(value), datetime.min.time())
            except ValueError:
                when = None
        if when is not None:
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
            return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    raise FilterError(f"filter {key!r}: {value!r} is not a date or time; give ISO 8601, e.g. 2026-01-31 or "
                      f"2026-01-31T12:00:00Z")


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise FilterError(f"filter {key!r}: {value!r} is not a number")
    try:
        return float(value)
    except ValueError:
        raise FilterError(f"filter {key!r}: {value!r} is not a number") from None


def _range(key: str, value: Mapping[str, Any]) -> Condition:
    unknown = sorted(set(value) - set(BOUNDS))
    if unknown or not value:
        raise FilterError(f"filter {key!r}: a range takes {', '.join(BOUNDS)}, got {dict(value)!r}")
    dates = key in DATE_KEYS
    bounds = tuple((b, _date(key, v) if dates else _number(key, v)) for b, v in value.items() if v is not None)
    if not bounds:
        raise FilterError(f"filter {key!r}: the range gives no bound; give one of {', '.join(BOUNDS)}")
    return Condition(key, bounds=bounds, dates=dates)


def _condition(key: str, value: Any) -> Condition:
    if key not in ALL_KEYS:
        raise FilterError(f"cannot filter on {key!r}: a filter may name {', '.join(ALL_KEYS)} (the tenant comes "
                          f"from --tenant or the API key)")
    if key in RANGE_KEYS:
        if isinstance(value, Mapping):
            return _range(key, value)
        # An exact number or time is the range from it to itself.
        return _range(key, {"gte": value, "lte": value})
    if isinstance(value, Mapping):
        raise FilterError(f"filter {key!r}: ranges apply to {', '.join(RANGE_KEYS)} only; give a value or a "
                          f"list of values")
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list | tuple) or not values or not all(isinstance(v, str) for v in values):
        raise FilterError(f"filter {key!r}: give a string or a non-empty list of strings, got {value!r}")
    if len(values) > MAX_VALUES:
        raise FilterError(f"filter {key!r}: at most {MAX_VALUES} values, got {len(values)}")
    return Condition(PAYLOAD_FIELDS.get(key, key), values=tuple(dict.fromkeys(values)))


def parse(filters: Mapping[str, Any] | None, exclude: Mapping[str, Any] | None = None
          ) -> tuple[list[Condition], list[Condition]]:
    """(must, must_not) conditions of a search's filters; FilterError when one is malformed."""
    must = [_condition(k, v) for k, v in sorted((filters or {}).items())]
    must_not = [_condition(k, v) for k, v in sorted((exclude or {}).items())]
    return must, must_not


def from_cli(items: list[tuple[str, str, str]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """`--filter` items (key, operator, value) as (filters, exclude): a key given twice
    with = is any-of, != excludes, >= > <= < build a range."""
    filters: dict[str, Any] = {}
    exclude: dict[str, Any] = {}
    ops = {">=": "gte", ">": "gt", "<=": "lte", "<": "lt"}
    for key, op, value in items:
        if op in ops:
            if key not in RANGE_KEYS:
                raise FilterError(f"--filter {key}{op}{value}: ranges apply to {', '.join(RANGE_KEYS)} only")
            filters.setdefault(key, {})[ops[op]] = value
        else:
            target = exclude if op == "!=" else filters
            if key in RANGE_KEYS and op == "=":
                target[key] = value
                continue
            target.setdefault(key, []).append(value)
    return filters, exclude
