"""Settings from the environment and from mounted files (``BATPASS_SETTINGS_DIR``), as a container
receives them (deploy/README.md): a file holds one setting, named like its variable; a variable
wins over a file; a malformed setting or a missing folder is refused naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from batpass.core.errors import InvalidInput
from batpass.core.settings import load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BATPASS_SETTINGS_DIR", "BATPASS_DB_URL", "BATPASS_DB_SCHEMA", "BATPASS_METRICS_PORT"):
        monkeypatch.delenv(name, raising=False)


def test_a_mounted_file_sets_its_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "BATPASS_DB_URL").write_text("postgresql+psycopg://node@db.internal/batpass\n")
    (tmp_path / "BATPASS_DB_SCHEMA").write_text("carmaker")
    monkeypatch.setenv("BATPASS_SETTINGS_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.db_url == "postgresql+psycopg://node@db.internal/batpass"  # the trailing newline is dropped
    assert settings.db_schema == "carmaker"


def test_a_variable_wins_over_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "BATPASS_DB_SCHEMA").write_text("from_file")
    monkeypatch.setenv("BATPASS_SETTINGS_DIR", str(tmp_path))
    monkeypatch.setenv("BATPASS_DB_SCHEMA", "from_env")
    assert load_settings().db_schema == "from_env"


def test_a_malformed_file_names_its_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "BATPASS_METRICS_PORT").write_text("ninety")
    monkeypatch.setenv("BATPASS_SETTINGS_DIR", str(tmp_path))
    with pytest.raises(InvalidInput) as exc:
        load_settings()
    assert exc.value.field == "BATPASS_METRICS_PORT"


@pytest.mark.parametrize("value", ["does-not-exist", "a-file"])
def test_a_settings_dir_that_is_no_folder_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str) -> None:
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("BATPASS_SETTINGS_DIR", str(tmp_path / value))
    with pytest.raises(InvalidInput) as exc:
        load_settings()
    assert exc.value.field == "BATPASS_SETTINGS_DIR"
    assert "BATPASS_SETTINGS_DIR" in str(exc.value)
