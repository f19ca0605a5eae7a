"""``batpass credential …`` and ``batpass trust …`` on a real node folder (SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from batpass.trust import MIGRATIONS_DIR

composition = pytest.importorskip("batpass.node._composition")
pytestmark = pytest.mark.skipif(
    MIGRATIONS_DIR not in composition.migration_dirs(),
    reason="the composition root does not apply the trust migrations yet (lead integrates trust.MIGRATIONS_DIR)",
)


def test_issue_verify_revoke_sign_add(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from batpass.cli._trust import app, credential_app
    from batpass.node.local import init_node

    monkeypatch.setenv("BATPASS_HOME", str(tmp_path))
    node, _key = init_node("cert", profiles=["catena-x"], port=18443)
    did = node.did
    cfg = json.loads((tmp_path / "cert" / "config.json").read_text())
    cfg["extra"] = {"ecosystem": "catena-x", "trust_operators": {"catena-x": did}}
    (tmp_path / "cert" / "config.json").write_text(json.dumps(cfg))
    runner = CliRunner()
    tl = {
        "trustListVersion": "1.0",
        "ecosystem": "catena-x",
        "operator": did,
        "sequence": 1,
        "issuedAt": "2026-01-01T00:00:00Z",
        "issuers": [{"did": did, "name": "self", "credentialTypes": ["AccessRoleCredential"]}],
    }
    (tmp_path / "tl.json").write_text(json.dumps(tl))
    r = runner.invoke(app, ["sign", "--node", "cert", str(tmp_path / "tl.json")])
    assert r.exit_code == 0, r.output
    (tmp_path / "tl.jws").write_text(r.stdout.strip())
    r = runner.invoke(app, ["add", "--node", "cert", "--ecosystem", "catena-x", str(tmp_path / "tl.jws")])
    assert r.exit_code == 0, r.output
    subject = json.dumps({"id": "did:web:reader.test", "role": "commission", "organisation": "EC"})
    r = runner.invoke(
        credential_app, ["issue", "--node", "cert", "--type", "AccessRoleCredential", "--subject", subject]
    )
    assert r.exit_code == 0, r.output
    token = r.stdout.strip().splitlines()[0]
    r = runner.invoke(credential_app, ["verify", "--node", "cert", token])
    assert r.exit_code == 0 and json.loads(r.stdout)["verified"] is True
    cid = json.loads(__import__("base64").urlsafe_b64decode(token.split(".")[1] + "==="))["id"]
    assert runner.invoke(credential_app, ["revoke", "--node", "cert", cid]).exit_code == 0
    r = runner.invoke(credential_app, ["verify", "--node", "cert", token])
    assert r.exit_code != 0 and json.loads(r.stdout)["reason"] == "revoked"
