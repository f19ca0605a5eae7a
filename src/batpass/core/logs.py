"""How batpass processes log: one configuration for the CLI, ``batpass serve`` and its workers.

Every line carries an ISO 8601 timestamp with its offset. ``text`` is for a person at a terminal;
``json`` writes one object per line for a log shipper. Unless ``BATPASS_LOG_FORMAT`` names one,
the format follows where the lines go: ``text`` when standard error (the log stream) is a
terminal, ``json`` otherwise (a service manager, a container, a file). Request lines come from the
``batpass.access`` logger with ``method``, ``path``, ``status``, ``duration_ms`` and
``request_id`` as fields, so both formats carry them without parsing a message.

Every record emitted while a request is handled carries that request's id (``request_id``, from
the context variable :data:`REQUEST_ID` the HTTP edge sets), whichever logger emits it and in
whichever worker thread (``anyio.to_thread`` copies the context). Knows no node, HTTP framework
or store.
"""

from __future__ import annotations

import logging
import logging.config
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

__all__ = [
    "ACCESS_FIELDS",
    "ACCESS_LOGGER",
    "REQUEST_ID",
    "IsoFormatter",
    "JsonFormatter",
    "RequestIdFilter",
    "configure_logging",
    "default_log_format",
    "logging_config",
]

#: the logger of one line per HTTP request
ACCESS_LOGGER = "batpass.access"
#: the fields an access record carries (``logger.info(..., extra={...})``)
ACCESS_FIELDS = ("client", "method", "path", "status", "duration_ms")
#: the id of the HTTP request being handled (set by the HTTP edge, ``None`` outside a request)
REQUEST_ID: ContextVar[str | None] = ContextVar("batpass_request_id", default=None)

LogFormat = Literal["text", "json"]


def default_log_format(stream: object = None) -> LogFormat:
    """``text`` when ``stream`` (default: standard error, where the lines go) is a terminal,
    ``json`` otherwise."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    try:
        return "text" if callable(isatty) and isatty() else "json"
    except ValueError:  # a closed stream
        return "json"


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record (``record.request_id``; ``None`` outside a
    request). A handler filter: it runs in the thread that logs, where the context is the
    request's."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")


class IsoFormatter(logging.Formatter):
    """``2026-12-06T04:33:16.123+00:00 INFO    batpass.access: GET /health 200 0.4 ms``, and
    `` [request_id=...]`` at the end while a request is handled."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _timestamp(record)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = record.__dict__.get("request_id")
        return f"{line} [request_id={rid}]" if rid else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (the timestamp), ``level``, ``logger``, ``message``,
    ``request_id`` and the access fields when present, and ``exc`` (the formatted exception) when
    the record has one."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = record.__dict__.get("request_id")
        if rid is None:
            rid = REQUEST_ID.get()
        if rid is not None:
            out["request_id"] = rid
        for field in ACCESS_FIELDS:
            value = record.__dict__.get(field)
            if value is not None:
                out[field] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def logging_config(level: str = "warning", *, fmt: LogFormat | None = None, access: bool = False) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dictionary (also handed to uvicorn, so every worker process
    applies the same). ``access`` logs one line per request at INFO whatever ``level`` is;
    ``fmt`` ``None`` is :func:`default_log_format`."""
    fmt = fmt or default_log_format()
    formatter = "batpass.core.logs.JsonFormatter" if fmt == "json" else "batpass.core.logs.IsoFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"batpass": {"()": formatter}},
        "filters": {"request_id": {"()": "batpass.core.logs.RequestIdFilter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "batpass",
                "filters": ["request_id"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level.upper(), "propagate": True},
            # uvicorn's own access line has no duration: batpass writes its own
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            ACCESS_LOGGER: {"handlers": [], "level": "INFO" if access else "WARNING", "propagate": True},
        },
    }


def configure_logging(level: str = "warning", *, fmt: LogFormat | None = None, access: bool = False) -> None:
    logging.config.dictConfig(logging_config(level, fmt=fmt, access=access))
