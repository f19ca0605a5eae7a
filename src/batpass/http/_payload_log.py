"""The payload recorder: every payload a node receives, one JSON line each, for the leak scan.

Confidentiality is proved with planted canaries that must never reach a node not entitled to them
(docs/architecture.md "Confidentiality"; in the demo, the car maker's node). To prove a
negative, the scan must see *everything* the node received, so this records both ways data
arrives:

- ``in-request``: every inbound HTTP request (an ASGI middleware that buffers the body before the
  application reads it, so routes that never read their body are recorded too);
- ``out-response``: the response to every call the node makes with its shared outbound clients
  (httpx response event hooks that read the body first).

Each line is ``{"at", "direction", "method", "url", "status"?, "headers", "body",
"body_encoding"?, "truncated"?}``: headers that can carry data (``Authorization`` tokens
included; transport headers such as ``Host`` or ``Content-Length`` are left out, and the two
opaque API-key headers are replaced by a hash, being secrets that carry no data); the body as
UTF-8 text, or base64 with ``"body_encoding": "base64"`` when it is not UTF-8. Nothing is decoded
here (JWT segments are decoded by the scan, :mod:`batpass.demo._leak_scan`), which keeps the cost
per request at one JSON encoding and one ``write``.

Enabled per node by config ``extra["payload_log"]`` (a file path; off by default) with
``extra["payload_log_max_body"]`` (bytes recorded per body, default 16 MiB; longer bodies are cut
and marked ``truncated``). Appends are one ``os.write`` on an ``O_APPEND`` descriptor under a
lock, so lines never interleave between the node's worker threads (or worker processes).

It must not know any capability: it sees bytes and headers only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from batpass.core.clock import utc_now
from batpass.core.errors import ConfigurationError

__all__ = ["CONFIG_KEY", "DEFAULT_MAX_BODY", "MAX_BODY_KEY", "PayloadLog", "PayloadLogMiddleware"]

#: config ``extra`` key naming the JSON Lines file (absent or empty: recording is off)
CONFIG_KEY = "payload_log"
#: config ``extra`` key: bytes of each body kept in the log
MAX_BODY_KEY = "payload_log_max_body"
DEFAULT_MAX_BODY = 16 * 1024 * 1024

Direction = Literal["in-request", "out-response"]

#: headers that describe the transport, not data sent to the node (RFC 9110 §7.6.1 hop-by-hop
#: headers, framing, content negotiation, and the peer's own network address)
_TRANSPORT_HEADERS = frozenset(
    {
        "host",
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "content-encoding",
        "accept",
        "accept-encoding",
        "accept-language",
        "user-agent",
        "date",
        "server",
        "vary",
        "cache-control",
        "pragma",
        "expires",
    }
)
#: opaque secrets (the node admin key, the Ouranos API key): recorded as a hash, never in clear
_SECRET_HEADERS = frozenset({"x-api-key", "apikey"})


def _now() -> str:
    return utc_now().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_name, value in items:
        name = raw_name.lower()
        if name in _TRANSPORT_HEADERS:
            continue
        if name in _SECRET_HEADERS:
            value = "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:16]
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


class PayloadLog:
    """Appends one JSON line per received payload to ``path`` (created with mode 0600)."""

    def __init__(self, path: Path, *, max_body: int = DEFAULT_MAX_BODY) -> None:
        if max_body < 0:
            raise ConfigurationError(
                f"{MAX_BODY_KEY} must not be negative, got {max_body}", rule=f"config extra {MAX_BODY_KEY}: bytes ≥ 0"
            )
        self.path = path
        self.max_body = max_body
        self._lock = threading.Lock()
        self._fd: int | None = None
        # a path that cannot be written fails at start, not on the first request; the file then
        # exists even if nothing arrives, and is opened again on the first record
        self._open()
        self.close()

    @classmethod
    def from_config(cls, extra: Mapping[str, Any]) -> PayloadLog | None:
        """The recorder a node's config ``extra`` asks for, or ``None`` when recording is off."""
        target = extra.get(CONFIG_KEY)
        if not target:
            return None
        if not isinstance(target, str):
            raise ConfigurationError(
                f"{CONFIG_KEY} must be a file path, got {target!r}", rule=f"config extra {CONFIG_KEY}"
            )
        max_body = extra.get(MAX_BODY_KEY, DEFAULT_MAX_BODY)
        if not isinstance(max_body, int) or isinstance(max_body, bool):
            raise ConfigurationError(
                f"{MAX_BODY_KEY} must be an integer, got {max_body!r}", rule=f"config extra {MAX_BODY_KEY}"
            )
        return cls(Path(target), max_body=max_body)

    def _open(self) -> int:
        if self._fd is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot open the payload log {self.path}: {exc}",
                    rule=f"config extra {CONFIG_KEY}: a writable path",
                ) from exc
        return self._fd

    def close(self) -> None:
        """Close the file; a later record opens it again (a lifespan may be entered twice)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def record(
        self,
        direction: Direction,
        *,
        method: str,
        url: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        status: int | None = None,
    ) -> None:
        entry: dict[str, Any] = {"at": _now(), "direction": direction, "method": method, "url": url}
        if status is not None:
            entry["status"] = status
        entry["headers"] = _headers(headers)
        if len(body) > self.max_body:
            entry["truncated"] = len(body)
            body = body[: self.max_body]
        try:
            entry["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            entry["body"] = base64.b64encode(body).decode("ascii")
            entry["body_encoding"] = "base64"
        line = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        with self._lock:
            fd = self._open()
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view) :]

    def record_response(self, response: httpx.Response) -> None:
        """An answer to one of the node's outbound calls (its body already read)."""
        request = response.request
        self.record(
            "out-response",
            method=request.method,
            url=str(request.url),
            headers=response.headers.multi_items(),
            body=response.content,
            status=response.status_code,
        )

    async def _async_hook(self, response: httpx.Response) -> None:
        await response.aread()
        self.record_response(response)

    def _sync_hook(self, response: httpx.Response) -> None:
        response.read()
        self.record_response(response)

    def attach(self, client: httpx.AsyncClient | None, sync_client: httpx.Client | None) -> None:
        """Record the responses of the node's shared outbound clients (response event hooks:
        the body is read in the hook, so the caller then finds it already loaded)."""
        if client is not None:
            client.event_hooks["response"].append(self._async_hook)
        if sync_client is not None:
            sync_client.event_hooks["response"].append(self._sync_hook)


class PayloadLogMiddleware:
    """Pure ASGI middleware recording each inbound HTTP request before the application runs.

    The body is read in full first and then replayed to the application unchanged, so a request
    whose route fails (404, 401, 422) is recorded with everything it carried."""

    def __init__(self, app: ASGIApp, *, log: PayloadLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        buffered: list[Message] = []
        chunks: list[bytes] = []
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break  # http.disconnect: record what arrived, replay the disconnect
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        self.log.record(
            "in-request",
            method=scope.get("method", ""),
            url=_request_url(scope),
            headers=((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", [])),
            body=b"".join(chunks),
        )

        async def replay() -> Message:
            if buffered:
                return buffered.pop(0)
            return await receive()

        await self.app(scope, replay, send)


def _request_url(scope: Scope) -> str:
    host = ""
    for k, v in scope.get("headers", []):
        if k == b"host":
            host = v.decode("latin-1")
            break
    if not host and scope.get("server"):
        h, p = scope["server"]
        host = f"{h}:{p}" if p else str(h)
    path = scope.get("raw_path") or scope.get("path", "").encode()
    url = f"{scope.get('scheme', 'https')}://{host}{path.decode('latin-1')}"
    qs: bytes = scope.get("query_string", b"")
    return f"{url}?{qs.decode('latin-1')}" if qs else url
