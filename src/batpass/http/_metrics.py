"""Request metrics: count and latency per route template, method and status class.

A pure ASGI middleware records each request once it is answered, in the application's own
``CollectorRegistry`` (never the process-global one, so several apps in one process, as in the
tests, do not collide). Labels carry no identifier: the route is the matched route's template
(``/v1/passports/{passport_id}``, never the raw path), ``<unmatched>`` when no route matched;
the method is one of the HTTP methods (``OTHER`` else); the status a class (``2xx`` ... ``5xx``).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from batpass.http._access import observe_response

__all__ = ["HttpMetrics", "MetricsMiddleware", "route_template"]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: seconds: from a cached read (a few ms) to a deep federated question (up to its deadline)
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_LABELS = ("route", "method", "status")


class HttpMetrics:
    """The request counter and latency histogram, registered in ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter("batpass_http_requests", "HTTP requests answered", _LABELS, registry=registry)
        self.duration = Histogram(
            "batpass_http_request_duration_seconds",
            "Time to answer an HTTP request (to the end of its body)",
            _LABELS,
            buckets=_BUCKETS,
            registry=registry,
        )

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        labels = (route, method if method in _METHODS else "OTHER", f"{min(max(status // 100, 1), 5)}xx")
        self.requests.labels(*labels).inc()
        self.duration.labels(*labels).observe(seconds)


def route_template(scope: Scope) -> str:
    """The template of the route that answered (set by the router on the scope), never the path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return "<unmatched>"
    return f"{path}/{{path}}" if isinstance(route, Mount) else path or "/"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await observe_response(self.app, scope, receive, send, self._observe)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        self.metrics.observe(route_template(scope), scope.get("method", ""), status, seconds)
