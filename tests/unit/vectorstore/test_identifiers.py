"""Exact identifiers in queries: found, matched whole whatever the separators, never inside a longer token."""

from __future__ import annotations

import pytest

from vectorstore.identifiers import held, identifiers, whole_tokens
from vectorstore.sparse import document_vector, query_vector


def test_codes_order_numbers_tickets_and_long_numbers_are_identifiers() -> None:
    text = "Where is order 4711-AB/22? Ticket INC0012345 about E-305, Codename-30960 and PO 123456, in 2026."
    assert identifiers(text) == ["4711-ab/22", "inc0012345", "e-305", "codename-30960", "123456", "po 123456"]
    assert identifiers("how long is parental leave after 2 years in 2026?") == []


@pytest.mark.parametrize("typed", ["INC0012345", "inc-0012345", "inc 0012345", "Inc_0012345"])
def test_an_identifier_matches_whatever_separator_or_case_it_is_typed_with(typed: str) -> None:
    assert held(identifiers(typed), "Incident INC0012345 was closed.")


@pytest.mark.parametrize("text", ["Incident INC00123456 was closed.", "Incident XINC0012345 was closed.",
                                  "Incident INC 0012 345 was closed."])
def test_an_identifier_is_not_matched_inside_a_longer_one(text: str) -> None:
    assert held(["inc0012345"], text) == []


def test_the_keyword_index_keeps_codes_whole_beside_their_parts() -> None:
    assert whole_tokens("part PN 88-1192-X and order 4711-AB/22") == ["881192x", "4711ab22"]
    plain, coded = query_vector("order 4711"), query_vector("order 4711-AB/22")
    assert set(plain.indices) < set(coded.indices)
    # The document side adds the same whole token, so the two meet in the index.
    assert set(query_vector("4711-AB/22").indices) <= set(document_vector("Order 4711-AB/22 shipped").indices)
