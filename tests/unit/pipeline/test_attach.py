"""What a process reads to find the running factory: the indexer's mark and `up`'s card."""

from __future__ import annotations

from pathlib import Path

from pipeline.attach import mark, mark_path, synced_from, up_card
from pipeline.presence import present


def test_synced_from_is_zero_without_a_mark_or_with_a_garbage_one(tmp_path: Path) -> None:
    assert synced_from(tmp_path) == 0.0  # no state folder at all
    mark_path(tmp_path).parent.mkdir(parents=True)
    for garbage in ("", "not json", "[]", "{}", '{"synced_from": "soon"}', '{"synced_from": null}'):
        mark_path(tmp_path).write_text(garbage)
        assert synced_from(tmp_path) == 0.0, garbage


def test_a_mark_is_read_back(tmp_path: Path) -> None:
    mark_path(tmp_path).parent.mkdir(parents=True)
    mark(tmp_path, 1234.5)
    assert synced_from(tmp_path) == 1234.5
    mark(tmp_path, 2000.0)  # replaced, not appended
    assert synced_from(tmp_path) == 2000.0
    assert [p.name for p in mark_path(tmp_path).parent.iterdir()] == ["indexer.json"]  # no temp file left


def test_up_card_only_while_up_is_present(tmp_path: Path) -> None:
    assert up_card(tmp_path) is None
    with present(tmp_path, "index"):
        assert up_card(tmp_path) is None  # another kind of service is not `up`
        with present(tmp_path, "up", detail={"bootstrap": "127.0.0.1:1", "epoch": "e"}) as me:
            card = up_card(tmp_path)
            assert card == me
            assert card is not None and card.detail == {"bootstrap": "127.0.0.1:1", "epoch": "e"}
    assert up_card(tmp_path) is None
