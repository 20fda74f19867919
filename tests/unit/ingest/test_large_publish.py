"""A large archive's documents must reach the raw lake: the producer keeps a bounded
window of unacknowledged bytes (a record queued behind 190 MB of others would expire),
and landing does not redact again what this process redacted at the edge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kafka.errors import KafkaTimeoutError

from governance.contracts import DocumentEvent
from governance.privacy import EdgeMemo, PrivacyPolicy
from governance.sealing import Sealer
from ingest import kafka
from ingest.errors import BrokerError
from ingest.kafka import KafkaConnection
from ingest.settings import KafkaSettings


class _Future:
    def __init__(self, producer: _Producer, size: int) -> None:
        self.producer, self.size, self.is_done = producer, size, False

    def get(self, timeout: float) -> None:
        if not self.is_done:
            self.is_done = True
            self.producer.unacked -= self.size


class _Producer:
    """Counts the bytes sent and not yet acknowledged (a stand-in for kafka-python's)."""

    def __init__(self) -> None:
        self.unacked = self.most_unacked = self.sent = 0

    def send(self, topic: str, key: bytes, value: bytes) -> _Future:
        self.unacked += len(value)
        self.sent += 1
        self.most_unacked = max(self.most_unacked, self.unacked)
        return _Future(self, len(value))

    def close(self, timeout: float | None = None) -> None:
        pass


def test_produce_keeps_a_bounded_window_of_unacknowledged_bytes(monkeypatch: Any) -> None:
    monkeypatch.setattr(kafka, "PRODUCE_WINDOW_BYTES", 10_000)
    producer = _Producer()
    conn = KafkaConnection(KafkaSettings(), "localhost:9092", "test")
    monkeypatch.setattr(KafkaConnection, "producer", lambda self: producer)
    records = ((f"t{i}", b"k", b"x" * 3_000) for i in range(40))  # 120 KB, a generator
    conn.produce(records)
    assert producer.sent == 40
    assert producer.unacked == 0  # every record acknowledged before produce returns
    assert producer.most_unacked <= 10_000


def test_a_record_larger_than_the_window_still_goes(monkeypatch: Any) -> None:
    monkeypatch.setattr(kafka, "PRODUCE_WINDOW_BYTES", 1_000)
    producer = _Producer()
    monkeypatch.setattr(KafkaConnection, "producer", lambda self: producer)
    KafkaConnection(KafkaSettings(), "localhost:9092", "test").produce([("t", b"k", b"x" * 5_000)] * 3)
    assert producer.sent == 3 and producer.unacked == 0
    assert producer.most_unacked == 5_000  # one at a time


class _Silent(_Producer):
    """A broker that never acknowledges (seen on a machine too loaded to run it)."""

    def send(self, topic: str, key: bytes, value: bytes) -> Any:
        class Pending:
            is_done = False

            def get(self, timeout: float) -> None:
                raise KafkaTimeoutError(f"Timeout after waiting for {timeout} secs.")
        return Pending()


def test_a_broker_that_acknowledges_nothing_is_a_broker_error_that_says_so(monkeypatch: Any) -> None:
    monkeypatch.setattr(kafka, "ACK_TIMEOUT_S", 0.3)
    monkeypatch.setattr(KafkaConnection, "producer", lambda self: _Silent())
    with pytest.raises(BrokerError, match="acknowledged no event for 0 s"):
        KafkaConnection(KafkaSettings(), "localhost:9092", "test").produce([("t", b"k", b"x")])


def test_edge_memo_vouches_only_for_the_exact_bytes_once() -> None:
    memo = EdgeMemo(limit=2)
    memo.vouch(b"redacted event")
    assert not memo.vouched(b"redacted event ")  # one byte more: another producer's message
    assert memo.vouched(b"redacted event")
    assert not memo.vouched(b"redacted event")  # used up: a second copy is redacted again
    for value in (b"a", b"b", b"c"):
        memo.vouch(value)
    assert not memo.vouched(b"a")  # the oldest went past the limit
    assert memo.vouched(b"b") and memo.vouched(b"c")


def test_landing_redacts_a_foreign_message_and_trusts_its_own(monkeypatch: Any) -> None:
    from pipeline import stream

    class _Factory:
        edge, privacy, pii_secret, sealer = EdgeMemo(), PrivacyPolicy(), b"s" * 32, Sealer(None)

    calls: list[str] = []
    real = stream.apply_privacy

    def counting(event: DocumentEvent, policy: PrivacyPolicy, secret: bytes) -> DocumentEvent:
        calls.append(event.document_id)
        return real(event, policy, secret)

    monkeypatch.setattr(stream, "apply_privacy", counting)
    factory = _Factory()
    event = DocumentEvent.new(op="upsert", document_id="t1:a.txt", version=1, text="mail jane.doe@example.com",
                              tenant="t1", jurisdiction="EU", region="eu-central", source_uri="file:///a.txt",
                              source_root="file:///")
    foreign = stream.landing_event(factory, event.to_json())  # type: ignore[arg-type]
    assert "jane.doe@example.com" not in foreign.text and calls == ["t1:a.txt"]
    own = foreign.to_json()
    factory.edge.vouch(own)
    assert stream.landing_event(factory, own) == foreign  # type: ignore[arg-type]
    assert calls == ["t1:a.txt"]  # not redacted a second time


def test_landing_with_encryption_seals_plain_messages_and_refuses_forged_seals(tmp_path: Path) -> None:
    """A foreign producer's plain event is redacted, then sealed, before the raw lake keeps it; one
    that claims to be sealed must open with the tenant's key: a forged seal would skip redaction."""
    from governance.keyring import KeyError_
    from pipeline import stream

    sealer = Sealer.at(tmp_path / "data-keys", tmp_path / "kms")

    class _Factory:
        edge, privacy, pii_secret = EdgeMemo(), PrivacyPolicy(), b"s" * 32

    factory = _Factory()
    factory.sealer = sealer  # type: ignore[attr-defined]
    event = DocumentEvent.new(op="upsert", document_id="t1:a.txt", version=1, text="mail jane.doe@example.com",
                              tenant="t1", jurisdiction="EU", region="eu-central", source_uri="file:///a.txt",
                              source_root="file:///")
    landed = stream.landing_event(factory, event.to_json())  # type: ignore[arg-type]
    assert Sealer.sealed(landed) and "jane" not in landed.to_json().decode()
    assert "jane.doe@example.com" not in sealer.open_record(landed).text  # redacted before it was sealed
    sealed_here = sealer.seal_record(event)  # as another process's edge of this home would publish it
    assert stream.landing_event(factory, sealed_here.to_json()) == sealed_here  # type: ignore[arg-type]
    forged = event.model_copy(update={"text": "aifx1:00000000:" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"})
    with pytest.raises(KeyError_):
        stream.landing_event(factory, forged.to_json())  # type: ignore[arg-type]
