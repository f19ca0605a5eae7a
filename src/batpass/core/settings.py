"""Process-wide settings (environment prefix ``BATPASS_``).

Nothing reads the environment at import time: :func:`load_settings` is called by the
composition root and the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    #: the node ``batpass serve`` runs (``--node`` on the command line)
    node: str | None = None

    @property
    def production(self) -> bool:
        return self.env == "production"


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
