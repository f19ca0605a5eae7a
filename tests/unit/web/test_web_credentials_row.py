"""The credentials a passport carries (its ``credentials`` field) read as their type, issuer and
validity on every page that shows the field — the public page, the console's own and remote
passports — never as the tokens' text."""

from __future__ import annotations

import datetime as dt

from batpass.trust import NodeIdentity, build_credential, generate_keypair, issue_vc_jwt
from batpass.web._passport_page import format_value

CERTIFIER = "did:web:certifier.example"


def _credential(until: dt.datetime | None) -> str:
    issuer = NodeIdentity(CERTIFIER, [generate_keypair("Ed25519", "key-ed25519-1")])
    vc = build_credential(
        issuer=CERTIFIER,
        ctype="AccessRoleCredential",
        subject={"id": "did:web:r.example", "role": "legitimate_interest", "organisation": "R"},
        valid_from=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        valid_until=until,
    )
    return issue_vc_jwt(issuer, vc)


def test_a_carried_credential_shows_as_its_type_and_issuer_never_as_token_text() -> None:
    token = _credential(None)
    dated = _credential(dt.datetime(2030, 6, 30, tzinfo=dt.UTC))
    row = format_value("credentials", [token, token + "~WyJzYWx0Il0~", dated, "garbage"])
    assert row.items[0] == f"AccessRoleCredential, issued by {CERTIFIER}"
    assert row.items[1] == row.items[0]  # an SD-JWT VC, read by its issuer-signed part
    assert row.items[2] == f"AccessRoleCredential, issued by {CERTIFIER} (valid until 2030-06-30)"
    assert row.items[3] == "a credential that could not be read"
    assert not any("eyJ" in line for line in row.items)
