"""Names that become folders and collection names: tenants and regions.

A letter or digit, then letters, digits, '.', '_' or '-', at most 64 in all. Any
producer on the raw topic sets a tenant, so "../../escaped" must be refused by the
contract, not trusted by a path. Light on purpose: the CLI's parser imports it.
"""

from __future__ import annotations

import re

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


def valid_name(value: str) -> bool:
    return re.fullmatch(NAME_PATTERN, value) is not None
