"""The faust worker's group session: short on the embedded broker, where the join
waits on it, and never below a Kafka cluster's minimum; the app is built with it."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from ingest.settings import EMBEDDED_WORKER_SESSION_MS, KafkaSettings
from pipeline.runner import Closing
from transforms.app import StatelessTableManager, create_app
from transforms.settings import TransformSettings
from vectorstore.embedder import default_model_path


def test_the_session_is_short_on_the_embedded_broker_only() -> None:
    assert KafkaSettings().worker_session_ms == EMBEDDED_WORKER_SESSION_MS
    cluster = KafkaSettings(bootstrap_servers="kafka:9092")
    assert cluster.worker_session_ms == cluster.session_timeout_ms >= 6_000


def test_a_session_set_in_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIFACTORY_WORKER_SESSION_TIMEOUT_MS", "7000")
    assert KafkaSettings().worker_session_ms == KafkaSettings(bootstrap_servers="kafka:9092").worker_session_ms == 7000


def test_the_app_heartbeats_four_times_a_session_and_skips_the_table_wait() -> None:
    settings = KafkaSettings(bootstrap_servers="127.0.0.1:9092", worker_session_timeout_ms=2000)
    app = create_app(settings, settings.bootstrap_servers, "epoch",
                     TransformSettings(tokenizer_dir=default_model_path()))
    assert app.conf.broker_session_timeout == 2.0
    assert app.conf.broker_heartbeat_interval == 0.5
    assert isinstance(app.tables, StatelessTableManager)
    assert not app.tables  # no tables: the start-up wait is skipped


def test_closing_in_the_background_raises_what_the_stop_raised() -> None:
    stack = contextlib.ExitStack()
    stopped: list[str] = []
    stack.callback(stopped.append, "broker")

    def fail() -> None:
        raise RuntimeError("worker would not stop")

    stack.callback(fail)
    closing = Closing(stack)
    with pytest.raises(RuntimeError, match="would not stop"):
        closing.join()
    assert stopped == ["broker"]  # the rest of the stack is still closed


def test_the_worker_consumer_fetch_waits_as_set_not_faust_s_fixed_1500_ms(monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded broker answers an aiokafka fetch only when its wait runs out: with
    faust's 1,500 ms every event waited up to that long before it was chunked."""
    assert KafkaSettings().fetch_max_wait_ms == 50
    monkeypatch.setenv("AIFACTORY_FETCH_MAX_WAIT_MS", "37")
    settings = KafkaSettings(bootstrap_servers="127.0.0.1:9092")
    app = create_app(settings, settings.bootstrap_servers, "epoch",
                     TransformSettings(tokenizer_dir=default_model_path()))

    async def made() -> int:  # aiokafka makes its consumer on a running loop
        consumer = app.consumer._thread._create_worker_consumer(app.transport)  # type: ignore[attr-defined]
        try:
            return int(consumer._fetch_max_wait_ms)
        finally:
            await consumer.stop()  # never started: this only marks it closed

    try:
        assert asyncio.run(made()) == 37
    finally:
        app.consumer._thread.thread_loop.close()  # type: ignore[attr-defined]  # made for a thread never started
