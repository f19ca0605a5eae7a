"""The request id: one per HTTP request, carried across nodes.

A caller's ``X-Request-Id`` is kept when it is at most 128 characters of letters, digits and
``-._:`` (anything else, or none, gets a fresh UUIDv7). The id is put on the response, in the
context variable :data:`batpass.core.logs.REQUEST_ID` (so every log record emitted while the
request is handled carries it, the access line included) and on every outbound call the node
makes while handling it (:func:`forward_request_id`, the event hooks of the node's shared
clients), so one question's lines can be followed from node to node.
"""

from __future__ import annotations

import re

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from batpass.core.ids import new_uuid7
from batpass.core.logs import REQUEST_ID

__all__ = ["REQUEST_ID_HEADER", "RequestIdMiddleware", "forward_request_id", "request_id_of"]

REQUEST_ID_HEADER = "X-Request-Id"
_SAFE = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def request_id_of(presented: str | None) -> str:
    """The caller's id if it is safe to log and pass on, else a fresh one."""
    if presented is not None and _SAFE.fullmatch(presented):
        return presented
    return str(new_uuid7())


class RequestIdMiddleware:
    """Pure ASGI: sets the request id for the request's context and on its response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        presented = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                presented = value.decode("latin-1")
                break
        rid = request_id_of(presented)
        header = (b"x-request-id", rid.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        token = REQUEST_ID.set(rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)


def _stamp(request: httpx.Request) -> None:
    rid = REQUEST_ID.get()
    if rid is not None and REQUEST_ID_HEADER not in request.headers:
        request.headers[REQUEST_ID_HEADER] = rid


async def _astamp(request: httpx.Request) -> None:
    _stamp(request)


def forward_request_id(client: httpx.AsyncClient | None = None, sync_client: httpx.Client | None = None) -> None:
    """Add the request id of the request being handled to every call these clients make (an
    event hook; a call outside a request carries none, an outbox message the one stored with it)."""
    if client is not None:
        client.event_hooks["request"].append(_astamp)
    if sync_client is not None:
        sync_client.event_hooks["request"].append(_stamp)
