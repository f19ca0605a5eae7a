"""Process-wide settings (environment prefix ``BATPASS_``).

Nothing reads the environment at import time: :func:`load_settings` is called by the
composition root and the CLI. A container (deploy/README.md) may also mount the settings as
files, one per setting named like its variable (``BATPASS_DB_URL``), in the folder
``BATPASS_SETTINGS_DIR`` names; a variable wins over a file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from batpass.core.errors import InvalidInput

__all__ = ["Settings", "load_settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BATPASS_", extra="ignore")

    #: where nodes live: ``$BATPASS_HOME/<name>/``
    home: Path = Field(default_factory=lambda: Path.home() / ".batpass")
    #: ``production`` refuses development shortcuts (plain HTTP, fixed test tokens, the demo)
    env: Literal["development", "production", "test"] = "development"
    #: overrides the node's configured database URL (e.g. a PostgreSQL server)
    db_url: str | None = None
    #: PostgreSQL schema for this node (several nodes may share one database)
    db_schema: str | None = None
    log_level: str = "warning"
    #: ``text`` (ISO timestamps, for a terminal) or ``json`` (one object per line, for a log
    #: shipper); unset: ``text`` when standard error is a terminal, else ``json``
    log_format: Literal["text", "json"] | None = None
    #: ``batpass serve`` logs one line per request (method, path, status, duration)
    access_log: bool = True
    #: a served node audits its own store when it starts (in the background; ``/ready`` waits)
    startup_audit: bool = True
    #: the largest request body a route takes unless it says otherwise (ledger event batches and
    #: imports allow more), in bytes; a larger one is refused with 413 before it is parsed
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    #: how long ``batpass serve`` waits on SIGTERM for requests still in flight, in seconds (idle
    #: keep-alive connections are closed at once and never waited for)
    graceful_shutdown_s: float = Field(default=2.0, gt=0, le=300)
    #: serve ``/docs``, ``/redoc`` and ``/openapi.json`` (default: yes, except in production mode)
    api_docs: bool | None = None
    #: ``/metrics`` (Prometheus text format, admin key) is served; also on this local-only port
    #: (bound to 127.0.0.1, no key) when set
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    #: the node ``batpass serve`` runs (``--node`` on the command line)
    node: str | None = None

    @property
    def production(self) -> bool:
        return self.env == "production"


#: the folder of mounted setting files (Docker secrets, a Kubernetes volume)
SETTINGS_DIR = "BATPASS_SETTINGS_DIR"


def load_settings(**overrides: object) -> Settings:
    """The settings from the environment, the files in ``BATPASS_SETTINGS_DIR`` (and
    ``overrides``); a malformed variable is refused with its name, e.g. ``BATPASS_LOG_FORMAT:
    Input should be 'text' or 'json'``."""
    files = os.environ.get(SETTINGS_DIR) or None  # empty (a compose file's ${VAR:-}): not set
    if files is not None and not Path(files).is_dir():
        raise InvalidInput(
            f"{SETTINGS_DIR}: {files} is not a folder",
            field=SETTINGS_DIR,
            rule="a folder of setting files named like their variables (BATPASS_DB_URL, ...)",
        )
    if files is not None:
        overrides = {"_secrets_dir": files, **overrides}
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "BATPASS_" + "_".join(str(p) for p in first["loc"]).upper()
        raise InvalidInput(f"{name}: {first['msg']}", field=name, rule="settings (environment BATPASS_*)") from exc
