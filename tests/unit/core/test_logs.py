"""Log lines: ISO timestamps on every line, one access line per request with its fields, JSON on
request; an application that fails still gets its access line (status 500)."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from batpass.core.logs import ACCESS_LOGGER, IsoFormatter, JsonFormatter, logging_config
from batpass.http import AccessLogMiddleware

ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00"


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord(ACCESS_LOGGER, logging.INFO, __file__, 1, "GET %s", ("/x",), None)
    record.__dict__.update(extra)
    return record


def test_text_lines_start_with_an_iso_timestamp() -> None:
    line = IsoFormatter().format(_record())
    assert re.fullmatch(ISO + r" INFO    batpass\.access: GET /x", line), line


def test_json_lines_carry_the_access_fields() -> None:
    doc = json.loads(JsonFormatter().format(_record(method="GET", path="/x", status=200, duration_ms=1.5)))
    assert re.fullmatch(ISO, doc.pop("ts"))
    assert doc == {
        "level": "info",
        "logger": ACCESS_LOGGER,
        "message": "GET /x",
        "method": "GET",
        "path": "/x",
        "status": 200,
        "duration_ms": 1.5,
    }


def test_access_lines_are_info_even_when_the_rest_is_warning() -> None:
    config = logging_config("warning", access=True)
    assert config["root"]["level"] == "WARNING" and config["loggers"][ACCESS_LOGGER]["level"] == "INFO"
    assert logging_config("warning")["loggers"][ACCESS_LOGGER]["level"] == "WARNING"


def _app() -> Starlette:
    async def ok(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok", status_code=201)

    async def boom(request: Request) -> PlainTextResponse:
        raise RuntimeError("boom")

    app = Starlette(routes=[Route("/ok", ok, methods=["POST"]), Route("/boom", boom)])
    app.add_middleware(AccessLogMiddleware)
    return app


def test_each_request_gets_one_access_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER), TestClient(_app(), raise_server_exceptions=False) as c:
        assert c.post("/ok?token=secret").status_code == 201
        assert c.get("/boom").status_code == 500
    records = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    assert [(r.__dict__["method"], r.__dict__["path"], r.__dict__["status"]) for r in records] == [
        ("POST", "/ok", 201),
        ("GET", "/boom", 500),
    ]
    assert all(isinstance(r.__dict__["duration_ms"], float) for r in records)
    assert "secret" not in caplog.text


def test_the_json_format_is_one_object_per_line() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("batpass.test-json")
    log.addHandler(handler)
    try:
        log.warning("first")
        try:
            raise ValueError("bad")
        except ValueError:
            log.exception("second")
    finally:
        log.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    second = json.loads(lines[1])
    assert second["message"] == "second" and "ValueError: bad" in second["exc"]
