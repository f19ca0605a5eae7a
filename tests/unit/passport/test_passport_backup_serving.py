"""The backup node answers a battery's Digital Link from the signed copy it holds (Art. 77(5)):
checked before it is served, public tier only, marked as served from its backup copy; a copy
whose signature does not verify against the operator's key is refused, never served."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from passport_testkit import ADMIN_KEY, EXAMPLE, ITEM, IdentityKeys, make_app, make_service, make_summary
from sqlalchemy import Engine, text, update
from sqlalchemy.exc import DBAPIError

from batpass.core.clock import FixedClock
from batpass.core.ids import BatteryId
from batpass.passport import MIGRATIONS_DIR, PassportRules, PassportService, _sql
from batpass.trust import NodeIdentity, generate_keypair
from batpass.web import mount_public_pages

BAT = BatteryId("04012345000009", "SN-0200")
BACKUP_DID = "did:web:backup.example%3A8443"
RESTRICTED_CANARIES = ("EVP75-MOD-01", "UN 38.3", "NMC811)", "spares@nordcell.example")


@pytest.fixture
def held(
    make_store: Callable[[Sequence[Path]], Engine],
    identity: NodeIdentity,
    rules: PassportRules,
    clock: FixedClock,
) -> Iterator[tuple[TestClient, PassportService, uuid.UUID]]:
    """The operator's node builds a passport and changes it once; the backup node (another store,
    another identity) accepts both signed versions as the outbox delivers them."""
    operator = make_service(make_store([MIGRATIONS_DIR]), identity, rules, clock)
    backup_identity = NodeIdentity(BACKUP_DID, [generate_keypair("Ed25519", "key-ed25519-1")])
    backup = PassportService(
        make_store([MIGRATIONS_DIR]),
        backup_identity,
        rules=rules,
        resolver_base="https://resolver.example",
        backup_url="https://backup.example:8443",
        clock=clock,
        key_resolver=IdentityKeys(identity),  # the operator's DID document
    )
    with TestClient(make_app(operator), base_url="https://id.nordcell.example") as op:
        r = op.post(
            "/v1/passports",
            json={
                "static": yaml.safe_load(EXAMPLE.read_text()),
                "battery": BAT.path,
                "item": ITEM,
                "summary": make_summary(BAT),
            },
            headers={"X-Api-Key": ADMIN_KEY},
        )
        assert r.status_code == 201, r.text
    pid = uuid.UUID(r.json()["passportId"].removeprefix("urn:uuid:"))
    operator.update(pid, {"renewable_content": {"value": 4.0, "unit": "%"}}, actor=identity.did)
    for v in operator.versions(pid):
        backup.accept_backup({"jws": v.jws})
    app = make_app(backup)
    mount_public_pages(app)  # the front door's search and the pages' language, as on a node
    app.state.ctx.name, app.state.ctx.did = "backup-node", BACKUP_DID
    with TestClient(app, base_url="https://backup.example:8443") as client:
        yield client, backup, pid


def test_the_backup_node_answers_the_digital_link_from_its_newest_copy(held: Any) -> None:
    client, _, pid = held
    r = client.get(BAT.path, headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["passportId"] == f"urn:uuid:{pid}" and doc["version"] == 2
    assert doc["data"]["renewable_content"]["value"] == 4.0  # the changed version, not the first
    assert doc["tiers"] == ["public"] and all(c not in r.text for c in RESTRICTED_CANARIES)
    served = doc["servedFrom"]
    assert served["source"] == "backup-copy" and served["holder"] == BACKUP_DID
    assert served["holderName"] == "backup-node" and served["operator"] == "did:web:nordcell.example"
    assert served["version"] == 2 and served["signedBy"].startswith("did:web:nordcell.example#")
    assert r.headers["Batpass-Served-From"] == f'backup-copy; holder="{BACKUP_DID}"'


def test_the_page_says_whose_backup_copy_it_is(held: Any) -> None:
    client, _, _ = held
    r = client.get(BAT.path, headers={"Accept": "text/html"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'id="served-from"' in r.text and "Served from the backup copy held by backup-node." in r.text
    assert all(c not in r.text for c in RESTRICTED_CANARIES)
    ja = client.get(BAT.path, headers={"Accept": "text/html", "Accept-Language": "ja"})
    assert "backup-nodeが保管するバックアップコピーから表示しています。" in ja.text


def test_the_linkset_from_a_backup_copy_links_only_what_the_backup_node_serves(held: Any) -> None:
    client, _, _ = held
    r = client.get(BAT.path, params={"linkType": "all"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/linkset+json")
    links = r.json()["linkset"][0]
    hrefs = {link["href"] for rel, items in links.items() if rel != "anchor" for link in items}
    assert hrefs == {BAT.digital_link("https://id.nordcell.example")}
    assert r.headers["Batpass-Served-From"].startswith("backup-copy")


def test_a_copy_whose_signature_does_not_verify_is_refused(held: Any) -> None:
    """The key recorded with the newest copy is not the operator's: the signature fails, the copy
    is never served (503 naming the rule), the page is not rendered from it."""
    client, backup, pid = held
    other = generate_keypair("Ed25519", "key-ed25519-1").public_jwk()
    with backup.engine.begin() as conn:
        conn.execute(
            update(_sql.backups)
            .where(_sql.backups.c.passport_id == str(pid), _sql.backups.c.version == 2)
            .values(signer_jwk=dict(other))
        )
    r = client.get(BAT.path, headers={"Accept": "application/json"})
    assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["rule"] == "passport.backup.signed" and "signature" in body["detail"]
    assert "servedFrom" not in r.text
    page = client.get(BAT.path, headers={"Accept": "text/html"})
    assert page.status_code == 503 and "did not pass its signature check" in page.text
    assert 'id="served-from"' not in page.text


def test_the_search_takes_a_battery_whose_copy_is_held_to_its_digital_link(held: Any) -> None:
    client, _, _ = held
    found = client.get("/search", params={"q": BAT.path}, follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == BAT.path
    assert client.get("/search", params={"q": "(01)04012345000009(21)SN-0999"}).status_code == 404


def test_no_copy_held_is_a_404(held: Any) -> None:
    client, _, _ = held
    r = client.get(BatteryId("04012345000009", "SN-0999").path, headers={"Accept": "application/json"})
    assert r.status_code == 404


@pytest.mark.parametrize(("column", "value"), [("received_at", "2026-12-07 20:02:M8.4"), ("signer_jwk", "x!{")])
def test_a_copy_with_a_value_that_does_not_read_is_refused(held: Any, column: str, value: str) -> None:
    """SQLite keeps any value in any column: a held copy's timestamp or key that does not read as
    its type is refused like a changed one (503, a problem), never a server error. PostgreSQL's
    column types refuse the value."""
    client, backup, pid = held
    where = "passport_id = :pid AND version = 2"
    if backup.engine.dialect.name != "sqlite":
        with pytest.raises(DBAPIError), backup.engine.begin() as conn:
            conn.execute(
                text(f"UPDATE passport_backups SET {column} = :v WHERE {where}"), {"v": value, "pid": str(pid)}
            )
        return
    with backup.engine.begin() as conn:
        conn.execute(text(f"UPDATE passport_backups SET {column} = :v WHERE {where}"), {"v": value, "pid": str(pid)})
    for url in (BAT.path, f"/v1/passports/backups/{pid}"):
        r = client.get(url, headers={"Accept": "application/json", "X-Api-Key": ADMIN_KEY})
        assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json"), url
        assert r.json()["type"].endswith("/integrity"), url
