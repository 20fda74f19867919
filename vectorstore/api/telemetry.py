"""Prometheus metrics of the vector API, in a registry of its own (one per app, so
two apps in one process, as in tests, do not collide). Series carry the tenant: a
tenant's view holds its own series only, so no tenant learns another's name.

Threat signals (deploy/prometheus/aifactory-alerts.yml alerts on them): failed
authentications by reason, cross-tenant probes (a tenant asking for an id that exists
under another tenant), bytes answered per tenant (export volume), and what the
pipeline quarantined (governance/signals.py). Series a rule takes `increase()` of start
at 0 (each reason at start, each tenant's probes at its first request), so the first
event after a scrape counts."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

# Search latency sits in the low milliseconds; the buckets resolve that.
BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
AUTH_FAILURES = ("missing", "unknown", "revoked", "expired", "forbidden")
Totals = Callable[[], dict[tuple[str, str], int]]  # (kind, tenant) -> count


class Telemetry:
    def __init__(self, quarantined: Totals | None = None) -> None:
        self.registry = CollectorRegistry()
        labels = ("route", "method", "status", "tenant")
        self.latency = Histogram("aifactory_api_request_seconds", "Request latency", labels,
                                 buckets=BUCKETS, registry=self.registry)
        self.requests = Counter("aifactory_api_requests", "Requests served", labels, registry=self.registry)
        self.errors = Counter("aifactory_api_errors", "Requests answered with an error", labels,
                              registry=self.registry)
        self.hits = Counter("aifactory_api_hits", "Hits returned", ("route", "tenant"), registry=self.registry)
        self.auth_failures = Counter("aifactory_api_auth_failures", "Requests refused for their key, by reason",
                                     ("reason",), registry=self.registry)
        for reason in AUTH_FAILURES:
            self.auth_failures.labels(reason)
        self.probes = Counter("aifactory_api_cross_tenant_probes", "Requests for an id held by another tenant",
                              ("tenant",), registry=self.registry)
        self.answered = Counter("aifactory_api_response_bytes", "Bytes of successful answers (export volume)",
                                ("route", "tenant"), registry=self.registry)
        if quarantined is not None:
            self.registry.register(_Quarantined(quarantined))

    def seen(self, tenant: str) -> None:
        """A tenant's first request: its probe counter starts at 0."""
        self.probes.labels(tenant)

    def observe(self, route: str, method: str, status: int, tenant: str, seconds: float, size: int = 0) -> None:
        labels = (route, method, str(status), tenant or "-")
        self.latency.labels(*labels).observe(seconds)
        self.requests.labels(*labels).inc()
        if status >= 400:
            self.errors.labels(*labels).inc()
        elif tenant not in ("", "*") and route.startswith("/v1/"):  # a tenant's data, not a scrape or a probe
            self.answered.labels(route, tenant).inc(size)

    def render(self, tenant: str | None = None) -> bytes:
        """Every series, or with `tenant` only that tenant's."""
        if tenant is None:
            return generate_latest(self.registry)
        view = CollectorRegistry(auto_describe=False)
        view.register(_OneTenant(self.registry, tenant))
        return generate_latest(view)


class _Quarantined(Collector):
    def __init__(self, totals: Totals) -> None:
        self.totals = totals

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily("aifactory_quarantined", "What the pipeline quarantined, by kind "
                                     "(injection: chunks; residency: refused records; lake_file: damaged files)",
                                     labels=("kind", "tenant"))
        for (kind, tenant), n in sorted(self.totals().items()):
            family.add_metric((kind, tenant), n)
        yield family


class _OneTenant(Collector):
    def __init__(self, registry: CollectorRegistry, tenant: str) -> None:
        self.registry, self.tenant = registry, tenant

    def collect(self) -> Iterable[Metric]:
        for family in self.registry.collect():
            mine = copy.copy(family)
            mine.samples = [s for s in family.samples if s.labels.get("tenant") == self.tenant]
            yield mine
