"""A member lander over a scripted consumer and a real lake: on a revoke it lands what it
read and commits before letting go; on an assignment it reloads the lake's keys, so a
row another member landed meanwhile is skipped, never landed twice."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from kafka import TopicPartition
from kafka.errors import CommitFailedError

from governance.contracts import DocumentEvent, LogPosition
from ingest import landing
from ingest.kafka import KafkaConnection
from ingest.lake import Lake
from ingest.landing import Lander
from ingest.tables import RAW, raw_row

TOPIC = "raw"
P0, P1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)
Polled = dict[TopicPartition, list[Any]]
Step = Callable[[Any], Polled]  # one poll: given the rebalance listener, what it returns


def event(name: str) -> DocumentEvent:
    return DocumentEvent.new(op="upsert", tenant="acme", document_id=f"acme:{name}", version=1, text=f"{name} text",
                             jurisdiction="EU", region="eu-central", source_uri=f"file:///src/{name}",
                             source_root="file:///src")


def message(tp: TopicPartition, offset: int, ev: DocumentEvent) -> SimpleNamespace:
    return SimpleNamespace(topic=tp.topic, partition=tp.partition, offset=offset, value=ev.to_json())


class ScriptedConsumer:
    """What a lander calls on a group member. Each poll runs the next step (which may
    call the listener, as kafka-python does inside `poll`); past the script, polls are
    empty and the lander is asked to stop."""

    def __init__(self, lake: Lake, steps: list[Step], *, fail_commits: int = 0) -> None:
        self.lake, self.steps, self.fail_commits = lake, list(steps), fail_commits
        self.listener: Any = None
        self.lander: Lander | None = None
        self.commits: list[dict[TopicPartition, int]] = []
        self.durable_at_commit: list[set[str]] = []  # the lake's keys when each commit was made
        self.closed: list[bool] = []
        self.in_network_thread = False

    def poll(self, timeout_ms: int, max_records: int) -> Polled:
        if self.steps:
            # kafka-python 3 runs the listener on its network thread, inside poll: no blocking call there.
            self.in_network_thread = True
            try:
                return self.steps.pop(0)(self.listener)
            finally:
                self.in_network_thread = False
        assert self.lander is not None
        self.lander.request_stop()
        return {}

    def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        if self.in_network_thread:
            raise RuntimeError("Cannot block on net.run() from the IO thread itself.")
        self._commit(offsets)

    def _commit(self, offsets: dict[TopicPartition, Any]) -> None:
        self.commits.append({tp: meta.offset for tp, meta in offsets.items()})
        self.durable_at_commit.append(self.lake.keys(RAW))
        if self.fail_commits:
            self.fail_commits -= 1
            raise CommitFailedError("the group rebalanced before the commit")

    def commit_async(self, offsets: dict[TopicPartition, Any], callback: Callable[[Any, Any], None]) -> None:
        """As kafka-python 3 allows on its network thread, where a rebalance listener runs."""
        try:
            self._commit(offsets)
        except CommitFailedError as exc:
            callback(offsets, exc)

    def close(self, autocommit: bool) -> None:
        self.closed.append(autocommit)


@pytest.fixture(autouse=True)
def no_timed_flush(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Only an empty poll (or a revoke) ends a batch, so the flushes are where the script puts them."""
    monkeypatch.setattr(landing, "FLUSH_INTERVAL_S", 60.0)
    yield


def member(lake: Lake, consumer: ScriptedConsumer, landed: list[list[str]]) -> Lander:
    def join(group_id: str, topic: str, listener: Any) -> ScriptedConsumer:
        assert (group_id, topic) == ("land-raw", TOPIC)
        consumer.listener = listener
        return consumer

    conn = SimpleNamespace(epoch="e", alive=True, member=join)  # what a lander uses of a KafkaConnection
    lander = Lander(cast(KafkaConnection, conn), lake, topic=TOPIC, spec=RAW, group_id="land-raw", member=True,
                    decode=lambda v, at: raw_row(DocumentEvent.from_json(v), at),
                    on_landed=lambda rows: landed.append(sorted(r["event_id"] for r in rows)))
    consumer.lander = lander
    return lander


def raw_ids(lake: Lake) -> list[str]:
    """Every row of the raw table, duplicates included."""
    return sorted(lake.dataset(RAW).to_table(columns=["event_id"]).column("event_id").to_pylist())


def test_a_revoke_lands_and_commits_what_was_read_and_an_assignment_reloads_the_keys(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    a, b, c, d = (event(n) for n in "abcd")
    seen: dict[str, Any] = {}

    def rebalance(listener: Any) -> Polled:
        assert lake.keys(RAW) == set()  # read, not landed yet
        listener.on_partitions_revoked([P0])
        seen["after_revoke"] = (lake.keys(RAW), list(consumer.commits))
        # Another member lands c from partition 1 before this one is given it.
        lake.write(RAW, [raw_row(c, LogPosition(epoch="e", topic=TOPIC, partition=1, offset=5))])
        listener.on_partitions_assigned([P0, P1])
        seen["assigned"] = lander.assigned
        return {P1: [message(P1, 5, c), message(P1, 6, d)]}  # c again: the other member had not committed it

    consumer = ScriptedConsumer(lake, [lambda _: {P0: [message(P0, 0, a), message(P0, 1, b)]}, rebalance])
    landed: list[list[str]] = []
    lander = member(lake, consumer, landed)
    lander.run()

    assert seen["after_revoke"] == ({a.event_id, b.event_id}, [{P0: 2}])
    assert seen["assigned"] == {0, 1}
    assert consumer.commits == [{P0: 2}, {P1: 7}]
    # Every commit came after the rows it covers were durable.
    assert {a.event_id, b.event_id} <= consumer.durable_at_commit[0]
    assert {c.event_id, d.event_id} <= consumer.durable_at_commit[1]
    assert raw_ids(lake) == sorted(e.event_id for e in (a, b, c, d))  # c once: skipped by its key
    assert landed == [sorted([a.event_id, b.event_id]), [d.event_id]]
    assert lander.rows_landed == 3 and lander.messages == 4
    assert consumer.closed == [False]


def test_a_revoke_with_nothing_read_commits_nothing(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")

    def rebalance(listener: Any) -> Polled:
        listener.on_partitions_revoked([])
        listener.on_partitions_assigned([P1])
        return {}

    consumer = ScriptedConsumer(lake, [rebalance])
    lander = member(lake, consumer, [])
    lander.run()
    assert consumer.commits == [] and lander.assigned == {1} and lander.rows_landed == 0
    assert not (tmp_path / "lake").exists()


def test_a_commit_refused_at_the_revoke_leaves_the_rows_durable_and_skipped_when_read_again(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    lake = Lake(tmp_path / "lake")
    a, b = event("a"), event("b")
    read = [message(P0, 0, a), message(P0, 1, b)]

    def rebalance(listener: Any) -> Polled:
        listener.on_partitions_revoked([P0])  # its commit fails: the group moved on
        listener.on_partitions_assigned([P0])
        return {P0: list(read)}  # given back, read again from the last commit

    consumer = ScriptedConsumer(lake, [lambda _: {P0: list(read)}, rebalance], fail_commits=1)
    landed: list[list[str]] = []
    lander = member(lake, consumer, landed)
    with caplog.at_level(logging.WARNING, logger="ingest.landing"):
        lander.run()

    assert "could not commit before its partitions moved" in caplog.text
    assert consumer.commits == [{P0: 2}, {P0: 2}]  # refused at the revoke, made after the re-read
    assert raw_ids(lake) == sorted([a.event_id, b.event_id])  # landed once
    assert landed == [sorted([a.event_id, b.event_id])] and lander.rows_landed == 2
    assert lander.error is None


def test_a_message_that_fails_mid_batch_is_not_committed_past_when_closing_revokes(tmp_path: Path) -> None:
    """kafka-python's close() revokes a member's partitions; the revoke must not land and
    commit the batch a failing message interrupted, or that message would be skipped for good."""
    lake = Lake(tmp_path / "lake")
    a, b = event("a"), event("b")
    consumer = ScriptedConsumer(lake, [lambda _: {P0: [message(P0, 0, a), SimpleNamespace(
        topic=TOPIC, partition=0, offset=1, value=b"{not json"), message(P0, 2, b)]}])
    lander = member(lake, consumer, [])
    lander.decode = lambda v, at: (_ for _ in ()).throw(RuntimeError("a bug in a decoder")) if v.startswith(b"{not") \
        else raw_row(DocumentEvent.from_json(v), at)
    consumer.close = lambda autocommit: consumer.listener.on_partitions_revoked([P0])  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="a bug in a decoder"):
        lander.run()
    assert consumer.commits == [] and not (tmp_path / "lake").exists()  # read again from offset 0 by the next owner


def test_a_row_read_but_not_written_is_not_landed_yet(tmp_path: Path) -> None:
    """A run waits until its raw rows are landed; a row the lander has read and still
    holds is not in the lake, and the next scan would publish its document again."""
    lake = Lake(tmp_path / "lake")
    a = event("a")
    held: dict[str, set[str]] = {}

    def more(_: Any) -> Polled:  # the lander holds a and asks for more before it writes
        held["while_held"] = lander.unlanded({a.event_id})
        return {}

    consumer = ScriptedConsumer(lake, [lambda _: {P0: [message(P0, 0, a)]}, more])
    lander = member(lake, consumer, [])
    assert lander.unlanded({a.event_id}) == {a.event_id}
    lander.run()
    assert held["while_held"] == {a.event_id}
    assert lander.unlanded({a.event_id}) == set() and a.event_id in lake.keys(RAW)
