"""Prometheus metrics (own registry, so several apps in one process do not collide) and the ASGI middleware that
records every HTTP request by route template, method and status."""
import time

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("chat_http_requests", "HTTP requests answered, by route, method and status",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("chat_http_request_duration_seconds", "HTTP request latency in seconds",
                                 ["route", "method", "status"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.errors = Counter("chat_http_request_errors", "HTTP requests that failed with a 5xx or an exception",
                              ["route"], registry=self.registry)
        self.dependency_errors = Counter("chat_dependency_errors", "Failed calls to a dependency",
                                         ["dependency", "operation"], registry=self.registry)
        self.passages = Histogram("chat_passages_returned", "Passages an answer was built from",
                                  buckets=(0, 1, 2, 3, 5, 10, 20), registry=self.registry)


def route_of(scope):
    """The route template (e.g. /api/chat), never the raw path, so label cardinality stays bounded."""
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class MetricsMiddleware:
    def __init__(self, app, metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            status["code"] = 500
            raise
        finally:
            route, code = route_of(scope), str(status["code"])
            labels = (route, scope["method"], code)
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(time.perf_counter() - started)
            if status["code"] >= 500:
                self.metrics.errors.labels(route).inc()
