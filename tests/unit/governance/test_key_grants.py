"""API key scopes and expiry: scopes narrow what the role allows and never widen it,
expiries read as spans or dates, and an update keeps what it was not asked to change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from governance.keys import OPERATIONS, ApiKeyError, KeyStore, expiry

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_expiry_reads_spans_dates_and_never() -> None:
    assert expiry("30d", NOW) == (NOW + timedelta(days=30)).isoformat()
    assert expiry("12h", NOW) == (NOW + timedelta(hours=12)).isoformat()
    assert expiry("2w", NOW) == (NOW + timedelta(weeks=2)).isoformat()
    assert expiry("2027-01-31", NOW) == "2027-01-31T00:00:00+00:00"  # a date with no zone is UTC
    assert expiry("never", NOW) == expiry("", NOW) == ""


@pytest.mark.parametrize("text", ["tomorrow", "30 days", "2026-12-01"])
def test_expiry_refuses_what_it_cannot_read_or_the_past(text: str) -> None:
    with pytest.raises(ApiKeyError, match="expiry"):
        expiry(text, NOW)


def test_scopes_narrow_the_role_and_cannot_widen_it(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    key, _ = store.create("acme", "reader", ["eu-central"], scopes=["search"])
    assert key.refusal("search") == ""
    assert "scoped to search, not context" in key.refusal("context")
    assert f"keys update {key.key_id} --scope search --scope context`" in key.refusal("context")  # keeps search
    assert "needs one of the roles admin" in key.refusal("usage")
    with pytest.raises(ApiKeyError, match="role reader cannot do usage"):
        store.create("acme", "reader", ["eu-central"], scopes=["usage"])
    with pytest.raises(ApiKeyError, match="not an operation"):
        store.create("acme", "reader", ["eu-central"], scopes=["everything"])
    unscoped, _ = store.create("acme", "writer", ["eu-central"])
    assert [op for op in OPERATIONS if not unscoped.refusal(op)] == \
        ["search", "context", "documents:read", "documents:write", "documents:delete"]


def test_a_key_past_its_expiry_is_expired(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    key, _ = store.create("acme", "reader", ["eu-central"], expires_at=(NOW + timedelta(days=1)).isoformat())
    assert not key.expired(NOW)
    assert key.expired(NOW + timedelta(days=1, seconds=1))
    assert not store.create("acme", "reader", ["eu-central"])[0].expired(NOW + timedelta(days=10_000))


def test_update_changes_what_it_is_told_and_keeps_the_rest(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    key, token = store.create("acme", "reader", ["eu-central"], scopes=["search"], name="bot")
    before, after = store.update(key.key_id, role="writer", scopes=["documents:write"])
    assert (before.role, before.scopes) == ("reader", ("search",))
    assert (after.role, after.scopes, after.regions, after.name) == ("writer", ("documents:write",),
                                                                     ("eu-central",), "bot")
    assert store.verify(token) == after  # the same token, the new grants
    with pytest.raises(ApiKeyError, match="role reader cannot do documents:write"):
        store.update(key.key_id, role="reader")  # its scope would outgrow the role
    store.revoke(key.key_id)
    with pytest.raises(ApiKeyError, match="revoked"):
        store.update(key.key_id, expires_at="")


def test_keys_stored_before_scopes_still_load(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text('[{"key_id": "k1", "tenant": "acme", "role": "reader", "regions": ["eu-central"], '
                    '"sha256": "00", "created_at": "2026-01-01T00:00:00+00:00", "revoked_at": "", "name": ""}]')
    (key,) = KeyStore(path).list()
    assert (key.scopes, key.expires_at, key.refusal("search")) == ((), "", "")
