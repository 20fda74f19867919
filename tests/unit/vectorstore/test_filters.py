"""Filters beyond exact match: the shapes the CLI and the API accept, and the errors for the rest."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from aifactory.cli import filter_item
from vectorstore.filters import Condition, FilterError, from_cli, parse


def test_values_lists_and_ranges_become_conditions() -> None:
    must, must_not = parse({"section": ["Leave", "Benefits"], "document_id": "a:x.md", "page": {"gte": 2, "lt": 5},
                            "event_time": {"gte": "2026-01-31"}}, {"region": "us-east"})
    assert must == [Condition("document_ids", values=("a:x.md",)),
                    Condition("event_time", bounds=(("gte", "2026-01-31T00:00:00.000000Z"),), dates=True),
                    Condition("page", bounds=(("gte", 2.0), ("lt", 5.0))),
                    Condition("section", values=("Leave", "Benefits"))]
    assert must_not == [Condition("region", values=("us-east",))]


def test_an_exact_number_or_time_is_a_range_from_it_to_itself() -> None:
    assert parse({"page": 3})[0] == [Condition("page", bounds=(("gte", 3.0), ("lte", 3.0)))]
    zoned = parse({"event_time": "2026-03-01T12:00:00+02:00"})[0][0]
    assert dict(zoned.bounds)["gte"] == "2026-03-01T10:00:00.000000Z"


@pytest.mark.parametrize(("filters", "message"), [
    ({"tenant": "other"}, "cannot filter on 'tenant'"),
    ({"colour": "red"}, "cannot filter on 'colour'"),
    ({"section": {"gte": "A"}}, "ranges apply to page, chunk_no, version, event_time only"),
    ({"page": {"from": 2}}, "a range takes gte, gt, lte, lt"),
    ({"page": {"gte": "two"}}, "'two' is not a number"),
    ({"page": {"gte": True}}, "True is not a number"),
    ({"event_time": {"gte": "last week"}}, "'last week' is not a date or time"),
    ({"section": []}, "a non-empty list of strings"),
    ({"section": [1, 2]}, "a non-empty list of strings"),
    ({"section": ["x"] * 101}, "at most 100 values"),
])
def test_malformed_filters_are_refused_naming_the_key(filters: dict[str, Any], message: str) -> None:
    with pytest.raises(FilterError, match=message):
        parse(filters)


def test_the_cli_spells_any_of_ranges_and_exclusions_with_operators() -> None:
    items = [filter_item(t) for t in ("section=Leave", "section=Benefits", "page>=2", "page<5",
                                      "region!=us-east", "title=a=b")]
    filters, exclude = from_cli(items)
    assert filters == {"section": ["Leave", "Benefits"], "page": {"gte": "2", "lt": "5"}, "title": ["a=b"]}
    assert exclude == {"region": ["us-east"]}
    parse(filters, exclude)  # what the CLI builds, search() accepts


@pytest.mark.parametrize(("text", "message"), [
    ("section", "expected KEY=VALUE"),
    ("section=", "expected KEY=VALUE"),
    ("colour=red", "unknown filter key 'colour'"),
    ("tenant=other", "unknown filter key 'tenant'"),
    ("section>=B", "ranges apply to page, chunk_no, version, event_time only"),
])
def test_the_cli_refuses_a_malformed_filter_at_parse_time(text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        filter_item(text)
