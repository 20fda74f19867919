"""Faust's Kafka transport, with the consumer's fetch wait as the factory sets it.

Faust creates its aiokafka consumer with `fetch_max_wait_ms=1500` and no setting to
change it. A Kafka broker answers a fetch as soon as a record arrives, so there the
wait only paces idle polls; the embedded broker (Tansu) answers an aiokafka fetch only
when the wait runs out, so each event waited up to 1.5 s before it was chunked
(`KafkaSettings.fetch_max_wait_ms`).
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as driver


def transport(fetch_max_wait_ms: int) -> type[driver.Transport]:
    """Faust's aiokafka transport whose worker consumer waits at most `fetch_max_wait_ms`."""

    class Thread(driver.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> Any:
            consumer = super()._create_worker_consumer(transport)
            consumer._fetch_max_wait_ms = fetch_max_wait_ms  # read by its fetcher, made at start
            return consumer

    class Consumer(driver.Consumer):
        def _new_consumer_thread(self) -> driver.AIOKafkaConsumerThread:
            return Thread(self, loop=self.loop, beacon=self.beacon)

    class Transport(driver.Transport):
        pass

    Transport.Consumer = Consumer
    return Transport


class App(faust.App):
    """A faust app on `transport(fetch_max_wait_ms)`."""

    def __init__(self, *args: Any, fetch_max_wait_ms: int, **kwargs: Any) -> None:
        self._transport_class = transport(fetch_max_wait_ms)
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> Any:
        return self._transport_class(self.conf.broker_consumer, self)
