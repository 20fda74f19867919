"""Prometheus metrics of the vector API, in a registry of its own (one per app, so
two apps in one process, as in tests, do not collide). Series carry the tenant: a
tenant's view holds its own series only, so no tenant learns another's name."""

from __future__ import annotations

import copy
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

# Search latency sits in the low milliseconds; the buckets resolve that.
BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class Telemetry:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ("route", "method", "status", "tenant")
        self.latency = Histogram("aifactory_api_request_seconds", "Request latency", labels,
                                 buckets=BUCKETS, registry=self.registry)
        self.requests = Counter("aifactory_api_requests", "Requests served", labels, registry=self.registry)
        self.errors = Counter("aifactory_api_errors", "Requests answered with an error", labels,
                              registry=self.registry)
        self.hits = Counter("aifactory_api_hits", "Hits returned", ("route", "tenant"), registry=self.registry)

    def observe(self, route: str, method: str, status: int, tenant: str, seconds: float) -> None:
        labels = (route, method, str(status), tenant or "-")
        self.latency.labels(*labels).observe(seconds)
        self.requests.labels(*labels).inc()
        if status >= 400:
            self.errors.labels(*labels).inc()

    def render(self, tenant: str | None = None) -> bytes:
        """Every series, or with `tenant` only that tenant's."""
        if tenant is None:
            return generate_latest(self.registry)
        view = CollectorRegistry(auto_describe=False)
        view.register(_OneTenant(self.registry, tenant))
        return generate_latest(view)


class _OneTenant(Collector):
    def __init__(self, registry: CollectorRegistry, tenant: str) -> None:
        self.registry, self.tenant = registry, tenant

    def collect(self) -> Iterable[Metric]:
        for family in self.registry.collect():
            mine = copy.copy(family)
            mine.samples = [s for s in family.samples if s.labels.get("tenant") == self.tenant]
            yield mine
