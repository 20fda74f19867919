"""Every generated hostile or odd input gets the outcome it is owed: a document, or a
refusal whose reason names the file and the limit (tests/fixtures/hostile.py)."""

from __future__ import annotations

import re

import pytest

from ingest.errors import SourceError
from ingest.parsers import parse
from tests.fixtures.hostile import SMALL, Case, cases

CASES = cases()


@pytest.mark.parametrize("case", CASES, ids=[f"{c.name}->{c.outcome}" for c in CASES])
def test_each_case_gets_its_outcome(case: Case) -> None:
    if case.outcome == "refused":
        with pytest.raises(SourceError) as err:
            parse(case.name, case.data, limits=SMALL)
        assert str(err.value).startswith(case.name), err.value
        assert re.search(case.expect, str(err.value)), err.value
    else:
        docs = parse(case.name, case.data, limits=SMALL)
        assert docs and re.search(case.expect, docs[0].text), docs[0].text[:200]
        for doc in docs:
            doc.text.encode("utf-8")  # storable by every sink


def test_the_generator_covers_every_limit() -> None:
    named = " ".join(c.expect for c in CASES)
    for limit in SMALL.model_dump():
        assert limit in named or (limit == "max_expansion_ratio" and "expansion ratio" in named), limit
