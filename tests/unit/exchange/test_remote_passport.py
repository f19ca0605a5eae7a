"""The one fetch of a passport on another node (``batpass.exchange.fetch_passport``): which held
credential opened which tier, from real ``vc+jwt`` access-role credentials; and the named
failures a reader sees (not found, refused, unreachable)."""

from __future__ import annotations

import datetime as dt
from functools import partial

import anyio
import httpx
import pytest

from batpass.core.errors import Forbidden, InvalidInput, NotFound, UpstreamUnavailable
from batpass.exchange import HeldRole, fetch_passport, held_roles, opened_by
from batpass.trust import NodeIdentity, build_credential, generate_keypair, issue_vc_jwt

CERTIFIER = "did:web:certifier.example"
READER = "did:web:recycler.example"


def _role(role: str) -> str:
    issuer = NodeIdentity(CERTIFIER, [generate_keypair("Ed25519", "key-ed25519-1")])
    vc = build_credential(
        issuer=CERTIFIER,
        ctype="AccessRoleCredential",
        subject={"id": READER, "role": role, "organisation": "Kreislauf Recycling GmbH"},
        valid_from=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        valid_until=None,
    )
    return issue_vc_jwt(issuer, vc)


def test_each_tier_names_the_credential_that_opened_it() -> None:
    held = held_roles([_role("legitimate_interest"), _role("notified_body"), "not-a-token"])
    assert held == (
        HeldRole("legitimate_interest", "AccessRoleCredential", CERTIFIER),
        HeldRole("notified_body", "AccessRoleCredential", CERTIFIER),
    )  # a token that does not parse opens nothing
    opened = {o.tier: o.by for o in opened_by(["public", "legitimate_interest", "dynamic"], held)}
    # the serving node decides the tiers; the public one needs no credential
    assert list(opened) == ["public", "legitimate_interest", "dynamic"]
    assert opened["public"] == ()
    assert opened["legitimate_interest"] == held  # both roles open it
    assert opened["dynamic"] == held[:1]  # only the legitimate interest opens the dynamic data
    # a tier the serving node did not grant is not shown, whatever this node holds
    assert "authorities" not in opened


def _serving(status: int) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"title": "x"})

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


def _unreachable() -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


def test_failures_are_named() -> None:
    url = "https://carmaker.example:8443/01/04012345000009/21/SN-1"
    fetch = partial(fetch_passport, url, trust=None)
    with pytest.raises(NotFound):
        anyio.run(partial(fetch, client=_serving(404)))
    with pytest.raises(Forbidden):
        anyio.run(partial(fetch, client=_serving(403)))
    with pytest.raises(UpstreamUnavailable, match="did not serve"):
        anyio.run(partial(fetch, client=_unreachable()))
    with pytest.raises(UpstreamUnavailable, match="not a passport"):
        anyio.run(
            partial(
                fetch, client=httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=[])))
            )
        )
    with pytest.raises(InvalidInput):
        anyio.run(partial(fetch_passport, "ftp://x/1", trust=None, client=_serving(200)))
