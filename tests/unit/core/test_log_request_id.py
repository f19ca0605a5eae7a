"""The request id: kept when a caller sends a safe one, generated otherwise, echoed on the
response, on the access line and every record logged while the request is handled, and forwarded
on the outbound calls made meanwhile. The log format follows the log stream unless set."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from batpass.core.logs import (
    ACCESS_LOGGER,
    REQUEST_ID,
    JsonFormatter,
    RequestIdFilter,
    default_log_format,
    logging_config,
)
from batpass.core.settings import Settings
from batpass.http import AccessLogMiddleware, RequestIdMiddleware, forward_request_id, request_id_of

ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}"


class _Tty(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_the_default_format_follows_the_log_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_log_format(_Tty(True)) == "text" and default_log_format(_Tty(False)) == "json"
    monkeypatch.setattr(sys, "stderr", _Tty(False))
    assert logging_config()["formatters"]["batpass"]["()"].endswith("JsonFormatter")
    assert logging_config(fmt="text")["formatters"]["batpass"]["()"].endswith("IsoFormatter")
    monkeypatch.setattr(sys, "stderr", _Tty(True))
    assert logging_config()["formatters"]["batpass"]["()"].endswith("IsoFormatter")
    assert logging_config(fmt="json")["formatters"]["batpass"]["()"].endswith("JsonFormatter")
    monkeypatch.delenv("BATPASS_LOG_FORMAT", raising=False)
    assert Settings().log_format is None  # unset: decided by the stream


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """What a JSON handler with the request-id filter writes, for every batpass logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root, access = logging.getLogger("batpass"), logging.getLogger(ACCESS_LOGGER)
    levels = root.level, access.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    access.setLevel(logging.NOTSET)  # a node configured earlier in this process may have silenced it
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        access.setLevel(levels[1])


def _docs(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_json_line_is_one_object_with_timestamp_level_logger_message_and_request_id(
    lines: io.StringIO,
) -> None:
    token = REQUEST_ID.set("req-1")
    try:
        logging.getLogger("batpass.test").warning("inside %s", "a request")
    finally:
        REQUEST_ID.reset(token)
    logging.getLogger("batpass.test").warning("outside")
    inside, outside = _docs(lines)
    assert re.fullmatch(ISO, str(inside.pop("ts")))
    assert inside == {
        "level": "warning",
        "logger": "batpass.test",
        "message": "inside a request",
        "request_id": "req-1",
    }
    assert "request_id" not in outside


def test_request_ids_are_kept_only_when_safe() -> None:
    assert request_id_of("abc-DEF_1.2:3") == "abc-DEF_1.2:3"
    assert request_id_of("a" * 128) == "a" * 128
    for bad in (None, "", "a" * 129, "new\nline", "spa ce", "é", "<script>"):
        assert re.fullmatch(UUID, request_id_of(bad)), bad


def _app(seen: list[httpx.Request]) -> Starlette:
    """A route that logs and calls out, through an async client and (in a worker thread) a sync
    one, both with the node's forwarding hook."""

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    aclient = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    sclient = httpx.Client(transport=httpx.MockTransport(answer))
    forward_request_id(aclient, sclient)

    async def calls_out(request: Request) -> JSONResponse:
        logging.getLogger("batpass.test.route").warning("handling")
        await aclient.get("https://partner.example/a")
        await aclient.get("https://partner.example/b", headers={"X-Request-Id": "chosen-by-caller"})
        return JSONResponse({"rid": REQUEST_ID.get()})

    def calls_out_sync(request: Request) -> JSONResponse:  # Starlette runs it in a worker thread
        sclient.get("https://partner.example/c")
        return JSONResponse({"rid": REQUEST_ID.get()})

    app = Starlette(routes=[Route("/out", calls_out), Route("/out-sync", calls_out_sync)])
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(RequestIdMiddleware)
    return app


def test_a_request_id_sent_in_is_echoed_logged_and_forwarded(lines: io.StringIO) -> None:
    seen: list[httpx.Request] = []
    with TestClient(_app(seen)) as client:
        r = client.get("/out", headers={"X-Request-Id": "trace-42"})
        assert r.status_code == 200 and r.headers["x-request-id"] == "trace-42" and r.json() == {"rid": "trace-42"}
        assert client.get("/out-sync", headers={"X-Request-Id": "trace-43"}).headers["x-request-id"] == "trace-43"
    assert [(q.url.path, q.headers.get("x-request-id")) for q in seen] == [
        ("/a", "trace-42"),
        ("/b", "chosen-by-caller"),  # a header the call sets itself is left alone
        ("/c", "trace-43"),
    ]
    docs = _docs(lines)
    route_line = next(d for d in docs if d["logger"] == "batpass.test.route")
    assert route_line["request_id"] == "trace-42"
    access = [d for d in docs if d["logger"] == ACCESS_LOGGER]
    assert [(d["path"], d["request_id"]) for d in access] == [("/out", "trace-42"), ("/out-sync", "trace-43")]
    assert REQUEST_ID.get() is None  # nothing leaks out of the request


def test_a_request_id_is_generated_when_absent_or_unsafe(lines: io.StringIO) -> None:
    seen: list[httpx.Request] = []
    with TestClient(_app(seen)) as client:
        fresh = client.get("/out").headers["x-request-id"]
        replaced = client.get("/out", headers={"X-Request-Id": "x" * 129}).headers["x-request-id"]
    assert re.fullmatch(UUID, fresh) and re.fullmatch(UUID, replaced) and fresh != replaced
    assert seen[0].headers["x-request-id"] == fresh and seen[2].headers["x-request-id"] == replaced
    access = [d for d in _docs(lines) if d["logger"] == ACCESS_LOGGER]
    assert [d["request_id"] for d in access] == [fresh, replaced]
