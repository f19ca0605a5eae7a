"""Recycled-content claims debit the recycler's credit account through its connector
(Regulation (EU) 2023/1542 Art. 8; docs/architecture.md "Flows", flow 6).

A recycler's ledger credits an account per recovered lot and element (``LedgerService``: the
recycled mass its recovery events produced). A battery maker that uses recycled material claims
kilograms of that account for a battery; the account is kept where the material was recovered,
so a second claim of the same kilograms — by another maker, or twice by the same — is caught
there, whoever makes it, even when neither claimant knows the other.

Composition-level: it joins the ledger (credit accounts, claims) and the connector (DSP provider
and consumer), which must not import each other.

- Recycler side: asset ``recycled-content-credit`` (source :class:`CreditAccounts`), access and
  usage policy ``Membership eq active`` (CX-0152). A claim is ``POST <data plane>/claims`` with
  ``{id, lot, element, kg, subject, custody?}`` (``subject``: the battery or passport the claim is
  for). The claimant is the consumer the agreement names — its DID as verified by DCP at
  negotiation — never a field of the body (a body naming a ``claimant`` is refused). The claim id
  is the claimant's idempotency key, kept per claimant (two claimants may use the same id): a
  replay answers the stored claim and debits nothing twice. Answers: ``201`` with the claim
  (``status: accepted``) and the account (credited, already debited, left); ``409`` problem
  details ``double-claim`` with the claim (``status: double_claim``, recorded) and the account
  figures — the kilograms credited, already debited and asked, and how many earlier claims
  debited it, but never who made them or for which battery: that evidence stays with the
  recycler (``GET /v1/ledger/double-claims``). An unknown account is a 404. Claims are taken one
  at a time in the node's process (the account read and the debit must not interleave; with
  several workers on PostgreSQL the ledger itself would have to lock the account row).
- Claimant side: :class:`CreditClaims` (``claim_remote``) negotiates once per recycler and sends
  the claim; ``POST /v1/ledger/claims/remote`` (admin) answers like the local ``POST
  /v1/ledger/claims``: 201 with the claim, or 409 ``double-claim`` problem details with the claim
  and the account the recycler reported. ``batpass ledger claim LOT --recycler DID --element
  --kg --subject --id --node NAME`` sends it from the CLI (exit 1 on a double claim).

Why a write on the data plane: the debit must reach the recycler's ledger under an agreement that
names the claimant, and a DSP transfer's data plane is where the agreement and its consumer are
checked on every request. A ``POST`` with the transfer's bearer token is the Tractus-X
``HttpData`` proxy pattern (``proxyMethod``/``proxyPath``/``proxyBody``, CX-0018), the same one
Catena-X request/response APIs such as the PCF exchange (CX-0136) use; it is served by
``DspProvider.proxy`` with exactly the token checks of a pull (a live access token of a STARTED
transfer). ``HttpData-PUSH`` would have the *provider* write to the consumer, the other way round;
a second API beside the connector would need its own authorisation of the claimant.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from functools import partial
from typing import Any

import anyio.to_thread

from batpass.core.errors import Conflict, InvalidInput, NotFound, UpstreamUnavailable
from batpass.dataspace import Asset, DataPlaneReply, DspProvider, OfferDefinition
from batpass.exchange._assets import ConnectorClient
from batpass.exchange._post_only import check_post_only
from batpass.http import problem_body
from batpass.ledger import DoubleClaim, LedgerService

__all__ = ["CREDIT_ASSET", "CreditAccounts", "CreditClaims", "install_credit_offer"]

CREDIT_ASSET = "recycled-content-credit"
_PATH = "claims"
_MEMBERSHIP = {"leftOperand": "Membership", "operator": "eq", "rightOperand": "active"}
_CLAIM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,95}$")
_FIELDS = {"id", "lot", "element", "kg", "subject", "custody"}
_RULE = 'recycled-content claim (Regulation (EU) 2023/1542 Art. 8; docs/architecture.md "Flows", flow 6)'
_DOUBLE = "Art. 8 (EU) 2023/1542: recycled mass is credited once; ledger.credit.double-claim"


def install_credit_offer(provider: DspProvider, source: CreditAccounts) -> None:
    """Register the source, the asset ``recycled-content-credit`` and its offer (Membership
    access and usage policy) on this node's provider; idempotent (run at every start)."""
    provider.register_source(CREDIT_ASSET, source)
    provider.register_asset(
        Asset(
            id=CREDIT_ASSET,
            source=CREDIT_ASSET,
            source_key=_PATH,
            title="Recycled-content credit accounts",
            properties={"description": "claim recycled kilograms of a recovered lot (POST claims)"},
        )
    )
    provider.register_offer(
        OfferDefinition(
            id=f"{CREDIT_ASSET}:membership",
            asset_id=CREDIT_ASSET,
            access_policy={"permission": [{"action": "access", "constraint": [{"and": [_MEMBERSHIP]}]}]},
            usage_policy={"permission": [{"action": "use", "constraint": [{"and": [_MEMBERSHIP]}]}]},
        )
    )


def _text(body: Mapping[str, Any], name: str, limit: int) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise InvalidInput(f"{name}: a string of 1-{limit} characters", field=name, rule=_RULE)
    return value


def _claim(body: Any) -> dict[str, Any]:
    """The claim of a request body, checked; the claimant never comes from here."""
    if not isinstance(body, dict):
        raise InvalidInput("the claim must be a JSON object", field="(body)", rule=_RULE)
    if "claimant" in body:
        raise InvalidInput(
            "claimant: not taken from the body; the claimant is the consumer of the agreement",
            field="claimant",
            rule="DCP: the requester's identity comes only from its verified token",
        )
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise InvalidInput(f"unknown member '{unknown[0]}'", field=unknown[0], rule=_RULE)
    claim_id = _text(body, "id", 96)
    if not _CLAIM_ID.match(claim_id):
        raise InvalidInput("id: A-Z a-z 0-9 . _ : / - (at most 96)", field="id", rule=_RULE)
    kg = body.get("kg")
    if isinstance(kg, bool) or not isinstance(kg, int | float) or not math.isfinite(kg) or kg <= 0:
        raise InvalidInput("kg: a number > 0", field="kg", rule="ledger.quantity.positive")
    custody = body.get("custody", "mass_balance")
    if not isinstance(custody, str):
        raise InvalidInput("custody: an ISO 22095 model", field="custody", rule="ISO 22095")
    return {
        "id": claim_id,
        "lot": _text(body, "lot", 128),
        "element": _text(body, "element", 16),
        "kg": float(kg),
        "subject": _text(body, "subject", 512),
        "custody": custody,
    }


def _stored_id(claimant: str, claim_id: str) -> str:
    """The ledger's claim id: the claimant's id in the claimant's own namespace (ids of two
    claimants never collide, and one cannot replay or block another's)."""
    return hashlib.sha256(claimant.encode()).hexdigest()[:16] + ":" + claim_id


class CreditAccounts:
    """The ``recycled-content-credit`` source of a recycler: debits the credit accounts of this
    node's ledger (owner ``ledger.identity.did``) for the consumer the agreement names."""

    def __init__(self, ledger: LedgerService) -> None:
        self.ledger = ledger
        self.owner = ledger.identity.did

    async def content(self, key: str, *, participant_bpnl: str | None, agreement_id: str) -> Any:
        raise InvalidInput("claims are POSTed to <data plane>/claims", field="method", rule=_RULE)

    async def proxy(
        self,
        key: str,
        *,
        method: str,
        path: str,
        query: Mapping[str, str],
        body: Any,
        consumer_did: str,
        consumer_bpnl: str | None,
        agreement_id: str,
    ) -> DataPlaneReply:
        check_post_only(
            asset="credit asset", resource=_PATH, noun="claim", path=path, method=method, query=query, rule=_RULE
        )
        claim = _claim(body)
        # the ledger locks the account for the claim's transaction (one claim at a time, across
        # workers too)
        res = await anyio.to_thread.run_sync(
            partial(
                self.ledger.claim_recycled,
                self.owner,
                claim_id=_stored_id(consumer_did, claim["id"]),
                lot=claim["lot"],
                element=claim["element"],
                kg=claim["kg"],
                claimant=consumer_did,
                subject=claim["subject"],
                custody=claim["custody"],
            )
        )
        own = {
            "id": claim["id"],
            "lot": res["lot"],
            "element": res["element"],
            "kg": res["kg"],
            "subject": res["subject"],
            "custody": res["custody"],
            "status": res["status"],
            "bookAndClaimNotAccepted": bool(res["book_and_claim_not_accepted"]),
        }
        account: dict[str, Any] = {"lot": res["lot"], "element": res["element"]}
        if "credited_kg" in res:  # a first claim (a replay answers the stored claim only)
            credited, debited = float(res["credited_kg"]), float(res["debited_kg"])
            account.update(creditedKg=credited, debitedKg=debited)
            if res["status"] == "accepted":
                account["remainingKg"] = max(0.0, credited - debited - float(res["kg"]))
            else:
                account["remainingKg"] = max(0.0, credited - debited)
                account["earlierClaims"] = len(res.get("conflicting_claims", []))
        else:
            own["replayed"] = True
        if res["status"] == "accepted":
            return DataPlaneReply(201, {"claim": own, "account": account})
        err = DoubleClaim(
            f"claim {claim['id']}: {res['kg']} kg {res['element']} of lot {res['lot']} are more than the account "
            "has left; the claim is recorded as a double claim",
            rule=_DOUBLE,
        )
        problem = problem_body(err)
        problem.update(claim=own, account=account)
        return DataPlaneReply(409, problem)


class CreditClaims:
    """The claimant's side: send a claim to a recycler's connector (one agreement and one started
    transfer per recycler, reused) and read its answer."""

    def __init__(self, connector: ConnectorClient) -> None:
        self.connector = connector

    async def claim_remote(
        self,
        recycler: str,
        *,
        claim_id: str,
        lot: str,
        element: str,
        kg: float,
        subject: str,
        custody: str = "mass_balance",
        dsp_url: str | None = None,
    ) -> dict[str, Any]:
        """Debit ``kg`` of ``element`` from ``recycler``'s account of ``lot`` for ``subject``.
        Returns ``{recycler, claim, account}``; ``claim.status`` is ``accepted`` or
        ``double_claim`` (recorded as such at the recycler). A refusal raises: 404 (no such
        account there), 400 (the recycler refused the claim's content), 409 (the id was used for
        another claim)."""
        body = {"id": claim_id, "lot": lot, "element": element, "kg": kg, "subject": subject, "custody": custody}
        _claim(body)  # the recycler checks it too; refuse a bad claim before negotiating
        status, answer = await self.connector.send(
            recycler, CREDIT_ASSET, "POST", path=_PATH, body=body, dsp_url=dsp_url
        )
        reported = answer if isinstance(answer, dict) else {}
        if status in (201, 409) and isinstance(reported.get("claim"), dict):
            return {"recycler": recycler, "claim": reported["claim"], "account": reported.get("account", {})}
        detail = reported.get("error_description") or reported.get("detail") or str(answer)[:500]
        if status == 404:
            raise NotFound(f"{recycler}: {detail}", field="lot", rule=_RULE + ": the recycler's credit account")
        if status == 400:
            raise InvalidInput(f"{recycler} refused the claim: {detail}", field="claim", rule=_RULE)
        if status == 409:
            raise Conflict(f"{recycler}: {detail}", rule="ledger.claim.unique")
        raise UpstreamUnavailable(f"{recycler} answered the claim with HTTP {status}: {detail}", rule=_RULE)


# -- routes (admin, claimant side) --------------------------------------------------------------
