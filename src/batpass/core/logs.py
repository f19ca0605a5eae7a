"""How batpass processes log: one configuration for the CLI, ``batpass serve`` and its workers.

Every line carries an ISO 8601 timestamp with its offset. ``text`` (the default) is for a person
at a terminal; ``json`` writes one object per line for a log shipper. Request lines come from the
``batpass.access`` logger with ``method``, ``path``, ``status`` and ``duration_ms`` as fields, so
both formats carry them without parsing a message. Knows no node, HTTP framework or store.
"""

from __future__ import annotations

import logging
import logging.config
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

__all__ = ["ACCESS_FIELDS", "ACCESS_LOGGER", "IsoFormatter", "JsonFormatter", "configure_logging", "logging_config"]

#: the logger of one line per HTTP request
ACCESS_LOGGER = "batpass.access"
#: the fields an access record carries (``logger.info(..., extra={...})``)
ACCESS_FIELDS = ("client", "method", "path", "status", "duration_ms")

LogFormat = Literal["text", "json"]


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")


class IsoFormatter(logging.Formatter):
    """``2026-12-06T04:33:16.123+00:00 INFO    batpass.access: GET /health 200 0.4 ms``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _timestamp(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message``, the access fields when
    present, and ``exc`` (the formatted exception) when the record has one."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in ACCESS_FIELDS:
            value = record.__dict__.get(field)
            if value is not None:
                out[field] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def logging_config(level: str = "warning", *, fmt: LogFormat = "text", access: bool = False) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dictionary (also handed to uvicorn, so every worker process
    applies the same). ``access`` logs one line per request at INFO whatever ``level`` is."""
    formatter = "batpass.core.logs.JsonFormatter" if fmt == "json" else "batpass.core.logs.IsoFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"batpass": {"()": formatter}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "batpass", "stream": "ext://sys.stderr"}
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


def configure_logging(level: str = "warning", *, fmt: LogFormat = "text", access: bool = False) -> None:
    logging.config.dictConfig(logging_config(level, fmt=fmt, access=access))
