"""One access-log line per HTTP request: client, method, path, status, duration and request id
(set by :class:`batpass.http.RequestIdMiddleware`, which wraps this one).

A pure ASGI middleware, so it sees every answer, problem details and streaming bodies included,
and costs one ``perf_counter`` pair and one log call per request. The query string is left out:
it can carry tokens and identifiers that have no place in a log file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from batpass.core.logs import ACCESS_LOGGER, REQUEST_ID

__all__ = ["AccessLogMiddleware", "observe_response"]

_log = logging.getLogger(ACCESS_LOGGER)


async def observe_response(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, done: Callable[[Scope, int, float], None]
) -> None:
    """Run ``app`` for one HTTP request, then call ``done(scope, status, seconds)`` — also when
    the application fails (status 500: what the server answers when it fails before a response
    starts)."""
    start = time.perf_counter()
    status = 500

    async def send_and_note(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        await send(message)

    try:
        await app(scope, receive, send_and_note)
    finally:
        done(scope, status, time.perf_counter() - start)


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        await observe_response(self.app, scope, receive, send, self._log_line)

    @staticmethod
    def _log_line(scope: Scope, status: int, seconds: float) -> None:
        ms = round(seconds * 1000, 1)
        client = scope.get("client")
        host = client[0] if client else "-"
        method, path = scope.get("method", ""), scope.get("path", "")
        _log.info(
            "%s %s %s %d %.1f ms",
            host,
            method,
            path,
            status,
            ms,
            extra={
                "client": host,
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": ms,
                "request_id": REQUEST_ID.get(),
            },
        )
