from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import pytest

from batpass.core.errors import ConfigurationError, Conflict, InvalidIdentifier, InvalidInput
from batpass.core.settings import Settings
from batpass.node import init_node, open_node
from batpass.participants import ParticipantService
from batpass.trust import check_private_file


def test_init_creates_a_whole_node(settings: Settings) -> None:
    node, key = init_node(
        "cell-maker",
        profiles=["ouranos", "bridge"],
        settings=settings,
        legal_name="Cell KK",
        country="jp",
        corporate_number="7000012050002",
    )
    home = settings.home / "cell-maker"
    assert set(node.config.profiles) == {"ouranos", "catena-x", "bridge"}
    assert "catena-x" in node.config.profiles  # bridge implies catena-x
    assert node.did == f"did:web:localhost%3A{node.config.port}"
    for f in (home / "keys").glob("*.pem"):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "tls" / "key.pem").stat().st_mode) == 0o600
    cfg = json.loads((home / "config.json").read_text())
    assert key not in json.dumps(cfg)  # the admin key is stored hashed only
    me = ParticipantService(node.engine).me()
    assert me is not None and me.country == "JP" and me.corporate_number == "7000012050002"
    node.close()
    again = open_node("cell-maker", settings=settings)
    assert again.identity.active().kid == node.identity.active().kid
    again.close()


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"profiles": ["catena-x"], "bpnl": "BPNL123"}, InvalidIdentifier, "BPNL"),
        ({"profiles": ["catena-x"], "corporate_number": "8000012050002"}, InvalidIdentifier, "check digit"),
        ({"profiles": ["edc"]}, InvalidInput, "unknown profile"),
        ({"profiles": []}, InvalidInput, "at least one profile"),
        ({"profiles": ["catena-x"], "country": "XX"}, InvalidInput, "ISO 3166"),
        ({"profiles": ["catena-x"], "port": 70000}, InvalidInput, "out of range"),
    ],
)
def test_bad_input_writes_nothing(
    settings: Settings, kwargs: dict[str, object], error: type[Exception], text: str
) -> None:
    with pytest.raises(error, match=text):
        init_node("n2", settings=settings, **kwargs)  # type: ignore[arg-type]
    assert not (settings.home / "n2").exists()


def test_port_in_use_is_refused(settings: Settings) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(InvalidInput, match=f"port {port} is in use"):
            init_node("n3", profiles=["catena-x"], settings=settings, port=port)
    assert not (settings.home / "n3").exists()


def test_existing_node_is_not_overwritten(settings: Settings) -> None:
    node, _ = init_node("n4", profiles=["catena-x"], settings=settings)
    node.close()
    before = (settings.home / "n4" / "config.json").read_bytes()
    with pytest.raises(Conflict, match="already exists"):
        init_node("n4", profiles=["ouranos"], settings=settings)
    assert (settings.home / "n4" / "config.json").read_bytes() == before


def test_bad_names_and_unreadable_config(settings: Settings) -> None:
    with pytest.raises(InvalidInput, match="node name"):
        init_node("Bad Name", profiles=["catena-x"], settings=settings)
    with pytest.raises(ConfigurationError, match="no node configuration") as e:
        open_node("missing", settings=settings)
    assert e.value.rule is not None and "batpass init" in e.value.rule
    node, _ = init_node("n5", profiles=["catena-x"], settings=settings)
    node.close()
    (settings.home / "n5" / "config.json").write_text("{not json")
    with pytest.raises(ConfigurationError, match="cannot read"):
        open_node("n5", settings=settings)
    (settings.home / "n5" / "config.json").write_text(json.dumps({"version": 99}))
    with pytest.raises(ConfigurationError, match="newer batpass"):
        open_node("n5", settings=settings)


def test_key_files_readable_by_others_are_refused(settings: Settings) -> None:
    node, _ = init_node("n6", profiles=["catena-x"], settings=settings)
    node.close()
    key = next((settings.home / "n6" / "keys").glob("*.pem"))
    os.chmod(key, 0o644)
    with pytest.raises(ConfigurationError, match="readable by others") as e:
        _ = open_node("n6", settings=settings).identity
    assert e.value.rule == "key files are mode 600"


def test_insecure_http_refused_in_production(tmp_path: Path) -> None:
    prod = Settings(home=tmp_path / "h", env="production")
    with pytest.raises(InvalidInput, match="production"):
        init_node("n7", profiles=["catena-x"], settings=prod, insecure_http=True)


def test_the_database_and_keys_are_private_and_a_group_mount_is_accepted(settings: Settings) -> None:
    """node.db and every key file are created 600; a key readable by its group (a secret an
    orchestrator mounts) is accepted, one readable by others refuses start-up — the TLS key too."""
    node, _ = init_node("n8", profiles=["catena-x"], settings=settings)
    node.close()
    home = settings.home / "n8"
    assert (home / "node.db").stat().st_mode & 0o777 == 0o600
    for key in [*(home / "keys").glob("*.pem"), home / "keys" / "secrets.key", node.paths.key]:
        if key.exists():
            assert key.stat().st_mode & 0o777 == 0o600, key
    signing = next((home / "keys").glob("*.pem"))
    os.chmod(signing, 0o640)
    assert open_node("n8", settings=settings).identity.did == node.did
    os.chmod(node.paths.key, 0o644)
    with pytest.raises(ConfigurationError, match="readable by others"):
        check_private_file(node.paths.key)
