"""The quota file: limits per tenant with a default, clear errors naming the file and the
limit, read again when it changes (no restart), and a file that turns bad keeps the last
good quotas in force."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from governance.quotas import Quota, QuotaBook, QuotaError


def _write(path: Path, text: str, tick: int) -> None:
    path.write_text(text)
    os.utime(path, ns=(tick * 10**9, tick * 10**9))  # a new mtime even within the clock's resolution


def test_limits_per_tenant_with_a_default_and_none_without_a_file(tmp_path: Path) -> None:
    path = tmp_path / "quotas.yaml"
    assert QuotaBook(path).for_tenant("acme") == Quota()
    _write(path, "default: {queries_per_second: 20}\ntenants:\n  acme: {queries_per_second: 2.5, query_burst: 4,"
                 " ingest_tokens_per_day: 1000}\n", 1)
    book = QuotaBook(path)
    assert book.for_tenant("acme") == Quota(queries_per_second=2.5, query_burst=4, ingest_tokens_per_day=1000)
    assert book.for_tenant("globex") == Quota(queries_per_second=20) and book.for_tenant("globex").burst == 20


def test_a_changed_file_holds_at_once_and_a_broken_one_keeps_the_last_good(tmp_path: Path,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "quotas.yaml"
    _write(path, "tenants: {acme: {queries_per_second: 2}}\n", 1)
    book = QuotaBook(path)
    _write(path, "tenants: {acme: {queries_per_second: 50}}\n", 2)
    assert book.for_tenant("acme").queries_per_second == 50
    _write(path, "tenants: {acme: {queries_per_second: fast}}\n", 3)
    assert book.for_tenant("acme").queries_per_second == 50
    assert "tenants.acme.queries_per_second: 'fast' is not a number" in book.problem and "stay in force" in book.problem
    assert book.problem in caplog.text  # the operator sees it in the service's log
    path.unlink()
    assert book.for_tenant("acme") == Quota()


@pytest.mark.parametrize(("text", "says"), [
    ("tenants: {acme: {queries_per_minute: 2}}", "unknown limit(s) queries_per_minute; known: queries_per_second"),
    ("tenants: {acme: {queries_per_second: 0}}", "0 would refuse every query"),
    ("tenants: {acme: {ingest_tokens_per_day: -1}}", "-1 is not a number of 0 or more"),
    ("limits: {}", "a quota file has `default` and `tenants` at its top"),
    ("tenants: [acme]", "`tenants` must map tenant names to limits"),
    ("tenants: {acme: [", "is not YAML"),
])
def test_a_bad_file_names_itself_and_the_limit(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "quotas.yaml"
    _write(path, text, 1)
    with pytest.raises(QuotaError) as caught:
        QuotaBook(path)
    assert says in str(caught.value) and str(path) in str(caught.value)
