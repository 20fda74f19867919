"""Exact identifiers in a query: order numbers, ticket ids, part numbers, codes.

A small embedding model blurs "Codename-30960" into its near neighbours, and BM25 scores
its parts like any word, so among near-identical memos the one holding the code is often
not first. Here an identifier is a token with a digit and a letter or separator
(E-305, INC0012345, 4711-AB/22, Codename-30960) or a number of five or more digits. It is
matched whole, its parts joined by at most one separator of any kind (so "INC-0012345"
and "inc 0012345" are the same code), never inside a longer token.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import pairwise

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-_/.#:][A-Za-z0-9]+)*")
_PARTS = re.compile(r"[a-z]+|[0-9]+")
_SEPARATOR = r"[-_/.#:\s]?"
MAX_IDENTIFIERS = 8


def is_identifier(token: str) -> bool:
    if not any(c.isdigit() for c in token):
        return False
    has_letter = any(c.isalpha() for c in token)
    has_separator = any(not c.isalnum() for c in token)
    return has_letter or has_separator or len(token) >= 5


def identifiers(text: str) -> list[str]:
    """The identifiers of `text`, lowercased, once each, in order; then, for a number
    typed after a short word ("inc 0012345"), the two as one code (written INC0012345)."""
    tokens = _TOKEN.findall(text)
    found = [t.lower() for t in tokens if is_identifier(t)]
    found += [f"{a} {b}".lower() for a, b in pairwise(tokens)
              if a.isalpha() and 2 <= len(a) <= 8 and b.isdigit() and is_identifier(b)]
    return list(dict.fromkeys(found))[:MAX_IDENTIFIERS]


def parts(identifier: str) -> list[str]:
    """Letter runs and digit runs: "INC0012345" -> ["inc", "0012345"]."""
    return _PARTS.findall(identifier.lower())


@lru_cache(maxsize=256)
def _pattern(identifier: str) -> re.Pattern[str]:
    body = _SEPARATOR.join(re.escape(p) for p in parts(identifier))
    return re.compile(rf"(?<![a-z0-9]){body}(?![a-z0-9])")


def held(identifier_list: list[str], text: str) -> list[str]:
    """Those of `identifier_list` that `text` holds whole."""
    low = text.lower()
    return [i for i in identifier_list if parts(i) and _pattern(i).search(low)]


def whole_tokens(text: str) -> list[str]:
    """One keyword per identifier written with separators, its parts joined: the BM25
    index keeps such codes whole beside their parts, so "4711-AB/22" also matches as one
    rare term ("inc0012345", one token already, is not repeated)."""
    return ["".join(parts(i)) for i in identifiers(text) if not i.isalnum()]
