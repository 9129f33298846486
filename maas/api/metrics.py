"""Prometheus metrics, on a registry owned by the app (no import-time globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("maas_requests_total", "API requests",
                                ["endpoint", "model", "status"], registry=self.registry)
        self.latency = Histogram(
            "maas_request_seconds", "Request latency (to the last byte)", ["endpoint", "model"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=self.registry)
        self.tokens = Counter("maas_tokens_total", "Tokens processed", ["model", "type"],
                              registry=self.registry)
        self.model_ready = Gauge("maas_model_ready", "1 if the model is ready", ["model"],
                                 registry=self.registry)

    def observe(self, endpoint: str, model: str, status: int, seconds: float,
                usage: dict[str, int] | None) -> None:
        self.requests.labels(endpoint, model, str(status)).inc()
        self.latency.labels(endpoint, model).observe(seconds)
        if usage:
            self.tokens.labels(model, "prompt").inc(usage.get("prompt_tokens", 0))
            self.tokens.labels(model, "completion").inc(usage.get("completion_tokens", 0))

    def render(self) -> bytes:
        return generate_latest(self.registry)
