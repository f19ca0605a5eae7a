"""One access-log line per HTTP request: client, method, path, status, duration and request id
(set by :class:`batpass.http.RequestIdMiddleware`, which wraps this one).

A pure ASGI middleware, so it sees every answer, problem details and streaming bodies included,
and costs one ``perf_counter`` pair and one log call per request. The query string is left out:
it can carry tokens and identifiers that have no place in a log file.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from batpass.core.logs import ACCESS_LOGGER, REQUEST_ID

__all__ = ["AccessLogMiddleware"]

_log = logging.getLogger(ACCESS_LOGGER)


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the server answers when the application fails before it starts a response

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            ms = round((time.perf_counter() - start) * 1000, 1)
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
