"""Demo step ``trust``: trust lists, memberships, a certified footprint recognised across the
two ecosystems, certified claims presented with selective disclosure, and a revocation
(docs/architecture.md "Flows", flow 5). Every call is HTTPS to a node's public API.

Steps 1 and 2 run early, in the ``federation`` step (the connectors need memberships before the
first federated trace); this step runs 3 to 5.

1. **Operators.** ``eu-certifier`` operates Catena-X and ``jp-certifier`` operates Ouranos
   (each node's ``trust_operators``). Each signs its ecosystem's trust list — which issuers are
   trusted for which credential types, and when — with its DID key (``POST
   /v1/trust/lists/sign``), and every node loads both (``POST /v1/trust/lists``; a node accepts
   a list only from the operator it is configured with). Recognition is mutual: ``eu-carmaker``
   sets its policy (``PUT /v1/trust/policy``: an Ouranos-certified CFP counts as a certified
   PCF, Ouranos origin and recycled-content attestations as Catena-X ones) and ``jp-hub``, the
   Japanese side, sets the Ouranos one (:data:`JP_POLICY`: a Catena-X-certified PCF counts as a
   certified CFP, Catena-X attestations as Ouranos ones).
2. **Memberships.** ``eu-certifier`` issues Catena-X ``MembershipCredential``s to every
   Catena-X node (car maker, recycler, bridge, mine and refinery nodes, itself), with the
   framework-agreement ``DataExchangeGovernanceCredential`` (Data Exchange Governance 1.0, which
   CX-0152 ``FrameworkAgreement`` usage policies ask for); ``jp-certifier`` issues Ouranos
   memberships to the hub, itself and each hosted operator. Holders keep them in their wallets
   (``POST /v1/credentials/wallet``); the hub keeps its operators' ones on their behalf (it holds
   their keys). DCP presentation queries (``/dcp/presentations/query``) answer with the holder's
   own memberships.
3. **Certified CFP.** The cell maker logs in to the hub (:class:`batpass.ouranos.OuranosClient`)
   and shows the certifier its cell CFP; ``jp-certifier`` issues a
   ``CertifiedCarbonFootprintCredential`` (``vc+jwt``, framework ``ouranos-cfp``) whose subject
   is the cell maker operator's DID, which the hub keeps for it. It reaches the car maker through
   the bridge, in the cell maker's upstream summary (``credentials``; the cell maker released
   ``certificates`` to the car maker) when the car maker traces its battery again.
   ``eu-carmaker`` verifies it (``POST /v1/credentials/verify``): the JP certifier is on the
   Ouranos list, and the recognition rule makes it a certified PCF on the Catena-X side;
   ``eu-recycler``, which set no rule, answers ``not-recognised``. Handed on as
   ``story.shared["trust.cfp_credential"]``.
4. **Certified claims.** The car maker shows ``eu-certifier`` its signed upstream summary (``GET
   /v1/ledger/summaries/{battery}``; its suppliers' summaries folded in, the evidence of lots
   stays with the tiers that hold them) and asks for claims
   (``POST /v1/credentials/certification-requests`` on the holder → ``/v1/credentials/certify``
   on the certifier, DCP self-issued token, SD-JWT VC bound to the holder's key). The certifier
   computes each claim from the summary and refuses what the data does not support (cobalt
   ≥ 16 % recycled, no high-risk cobalt origin). The holder verifies what it received, then
   presents each claim to ``eu-recycler`` with suppliers and quantities undisclosed (SD-JWT +
   key binding, nonce from the verifier's ``/v1/auth/nonce``), which verifies it.
5. **Revocation.** ``eu-certifier`` revokes one claim; presented again, the verifier (asking for
   a status list no older than the request) rejects it with reason ``revoked``.

Writes ``story.claims_verified`` (certified claims the car maker verified: the recognised CFP
and the claims it received) and artefacts under ``trust/`` (the signed lists, the policy, the
verification answers).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from typing import Any
from urllib.parse import quote

from rich.table import Table

from batpass.core.clock import utc_now
from batpass.core.errors import ConfidentialityViolation, InvariantViolation
from batpass.demo._story._context import Story
from batpass.ledger import MATERIALS, decode_summary

__all__ = ["JP_POLICY", "POLICY", "memberships", "operate_trust_lists", "run"]

CX_OPERATOR = "eu-certifier"
JP_OPERATOR = "jp-certifier"
HOLDER = "eu-carmaker"
#: the partner a claim is presented to (while the car maker holds the ledger data; see step 4)
VERIFIER = "eu-recycler"
HUB = "jp-hub"
CELL_MAKER = "jp-cellmaker"
#: the demo's authority (batpass.demo._story.authority)
AUTHORITY = "eu-authority"

CFP = "CertifiedCarbonFootprintCredential"
RECYCLED = "RecycledContentAttestationCredential"
ORIGIN = "OriginAttestationCredential"
MEMBERSHIP = "MembershipCredential"
FRAMEWORK = "DataExchangeGovernanceCredential"
EXPORT_AUTHORISATION = "ExportAuthorisationCredential"

#: Art. 8(2)(a) (EU) 2023/1542 phase-1 minimum recycled shares (from 2031-08-18)
ART8_MINIMUM = {"Co": 0.16, "Li": 0.06, "Ni": 0.06, "Pb": 0.85}
#: elements whose origin claims the holder asks for (OriginAttestationCredential.element)
ORIGIN_ELEMENTS = ("Li", "Co", "Ni", "Mn", "C_nat")

JSON = dict[str, Any]

POLICY: JSON = {
    "ecosystem": "catena-x",
    "rules": [
        {
            "id": "ouranos-cfp-as-cx-pcf",
            "fromEcosystem": "ouranos",
            "credentialType": CFP,
            "acceptedAs": CFP,
            "where": {"framework": "ouranos-cfp"},
            "label": "an Ouranos-certified CFP counts as a certified PCF",
        },
        {
            "id": "ouranos-origin",
            "fromEcosystem": "ouranos",
            "credentialType": ORIGIN,
            "acceptedAs": ORIGIN,
            "label": "an origin attestation certified in Ouranos counts as one in Catena-X",
        },
        {
            "id": "ouranos-recycled-content",
            "fromEcosystem": "ouranos",
            "credentialType": RECYCLED,
            "acceptedAs": RECYCLED,
            "label": "a recycled-content attestation certified in Ouranos counts as one in Catena-X",
        },
    ],
}


#: the Japanese side's policy (set on the hub, which evaluates passports for the Japanese market):
#: certificates issued in Catena-X count for Japanese purposes too, so recognition is mutual
JP_POLICY: JSON = {
    "ecosystem": "ouranos",
    "rules": [
        {
            "id": "cx-pcf-as-ouranos-cfp",
            "fromEcosystem": "catena-x",
            "credentialType": CFP,
            "acceptedAs": CFP,
            "where": {"framework": "catena-x-pcf"},
            "label": "a Catena-X-certified PCF counts as a certified CFP",
        },
        {
            "id": "cx-origin",
            "fromEcosystem": "catena-x",
            "credentialType": ORIGIN,
            "acceptedAs": ORIGIN,
            "label": "an origin attestation certified in Catena-X counts as one in Ouranos",
        },
        {
            "id": "cx-recycled-content",
            "fromEcosystem": "catena-x",
            "credentialType": RECYCLED,
            "acceptedAs": RECYCLED,
            "label": "a recycled-content attestation certified in Catena-X counts as one in Ouranos",
        },
    ],
}


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# ------------------------------------------------------------------------ 1. trust lists, policy


def _trust_list(story: Story, ecosystem: str, operator: str, issuers: list[JSON]) -> JSON:
    now = utc_now()
    return {
        "trustListVersion": "1.0",
        "ecosystem": ecosystem,
        "operator": story.node(operator).did,
        "sequence": 1,
        "issuedAt": _iso(now),
        "nextUpdate": _iso(now + dt.timedelta(days=90)),
        "issuers": issuers,
    }


def _issuer(story: Story, name: str, label: str, types: list[str]) -> JSON:
    now = utc_now()
    return {
        "did": story.node(name).did,
        "name": label,
        "credentialTypes": sorted(types),
        "validFrom": _iso(now - dt.timedelta(days=1)),
        "validUntil": _iso(now + dt.timedelta(days=2 * 365)),
    }


def operate_trust_lists(story: Story) -> dict[str, JSON]:
    """Each operator signs its ecosystem's list; every node loads both; the car maker sets its
    recognition policy. Returns the loaded lists by ecosystem."""
    cx = _trust_list(
        story,
        "catena-x",
        CX_OPERATOR,
        [
            _issuer(
                story,
                CX_OPERATOR,
                "EuroCert Batterien GmbH (Catena-X operator and certifier)",
                # the operator also issues the passport access roles (eu-authority's included)
                [
                    MEMBERSHIP,
                    FRAMEWORK,
                    CFP,
                    ORIGIN,
                    RECYCLED,
                    "DueDiligenceAttestationCredential",
                    "AccessRoleCredential",
                ],
            )
        ]
        # the authority: the one issuer whose export authorisations count (docs/outflows.md)
        + (
            [_issuer(story, AUTHORITY, "EU Market Surveillance Office (demo authority)", [EXPORT_AUTHORISATION])]
            if AUTHORITY in story.nodes
            else []
        ),
    )
    jp = _trust_list(
        story,
        "ouranos",
        JP_OPERATOR,
        [
            _issuer(
                story,
                JP_OPERATOR,
                "Nihon Battery Certification KK (Ouranos operator and certifier)",
                [MEMBERSHIP, CFP, ORIGIN, RECYCLED],
            )
        ],
    )
    signed: dict[str, str] = {}
    for eco, operator, body in (("catena-x", CX_OPERATOR, cx), ("ouranos", JP_OPERATOR, jp)):
        signed[eco] = story.call("POST", operator, "/v1/trust/lists/sign", json=body, expect=(201,)).json()["jws"]
        story.artefact(None, f"trust/{eco}.trust-list.jws", signed[eco] + "\n")
    loaded: dict[str, JSON] = {}
    for name in story.nodes:
        for eco, jws in signed.items():
            loaded[eco] = story.call(
                "POST", name, "/v1/trust/lists", json={"ecosystem": eco, "jws": jws}, expect=(201,)
            ).json()
    # a list signed by anyone but the configured operator is refused (here: the JP operator
    # signing a "catena-x" list is not eu-certifier)
    forged = dict(cx, operator=story.node(JP_OPERATOR).did)
    forged_jws = story.call("POST", JP_OPERATOR, "/v1/trust/lists/sign", json=forged, expect=(201,)).json()["jws"]
    refused = story.call(
        "POST", HOLDER, "/v1/trust/lists", json={"ecosystem": "catena-x", "jws": forged_jws}, expect=(401,)
    )
    if "trust list" not in refused.text:
        raise InvariantViolation(f"a forged list was refused for another reason: {refused.text}", rule="trust-list")
    story.call("PUT", HOLDER, "/v1/trust/policy", json=POLICY)
    story.artefact(None, "trust/eu-carmaker.recognition-policy.json", POLICY)
    story.call("PUT", HUB, "/v1/trust/policy", json=JP_POLICY)
    story.artefact(None, "trust/jp-hub.recognition-policy.json", JP_POLICY)
    return loaded


# ---------------------------------------------------------------------------- 2. memberships


def _issue(story: Story, issuer: str, ctype: str, subject: JSON, **extra: Any) -> JSON:
    body: JSON = {"type": ctype, "subject": subject, "format": "vc+jwt", **extra}
    issued: JSON = story.call("POST", issuer, "/v1/credentials/issue", json=body, expect=(201,)).json()
    return issued


def memberships(story: Story) -> list[tuple[str, str, str]]:
    """Catena-X memberships (BPNL) and Ouranos memberships (corporate number, openOperatorId);
    each kept in its holder's wallet. Returns (issuer, holder, subject DID) rows for the table."""
    since = _iso(utc_now())
    rows: list[tuple[str, str, str]] = []
    for name in [n for n, r in story.nodes.items() if "catena-x" in r.node.config.profiles]:
        bpnl = story.node(name).node.config.bpnl
        subject: JSON = {"id": story.node(name).did, "memberOf": "catena-x", "holderIdentifier": bpnl}
        cred = _issue(story, CX_OPERATOR, MEMBERSHIP, {**subject, "since": since})
        story.call("POST", name, "/v1/credentials/wallet", json={"credential": cred["credential"]}, expect=(201,))
        rows.append(("catena-x", name, subject["id"]))
        framework: JSON = {
            "id": subject["id"],
            "holderIdentifier": bpnl,
            "group": "UseCaseFramework",
            "useCase": "DataExchangeGovernance",
            "contractTemplate": "https://catenax-ev.github.io/docs/regulatory-framework/20000ft/data-exchange-governance",
            "contractVersion": "1.0",
        }
        cred = _issue(story, CX_OPERATOR, FRAMEWORK, framework)
        story.call("POST", name, "/v1/credentials/wallet", json={"credential": cred["credential"]}, expect=(201,))
        rows.append(("catena-x (Data Exchange Governance 1.0)", name, subject["id"]))
    for name in (HUB, JP_OPERATOR):
        cfg = story.node(name).node.config
        jp_subject: JSON = {
            "id": story.node(name).did,
            "memberOf": "ouranos",
            "holderIdentifier": cfg.corporate_number,
            "since": since,
        }
        cred = _issue(story, JP_OPERATOR, MEMBERSHIP, jp_subject)
        story.call("POST", name, "/v1/credentials/wallet", json={"credential": cred["credential"]}, expect=(201,))
        rows.append(("ouranos", name, story.node(name).did))
    # hosted operators: the hub holds their keys, so it keeps their memberships on their behalf
    for short, op in story.shared["ouranos.operators"].items():
        op_subject: JSON = {"id": op["did"], "memberOf": "ouranos", "holderIdentifier": op["openOperatorId"]}
        cred = _issue(story, JP_OPERATOR, MEMBERSHIP, {**op_subject, "since": since})
        story.call("POST", HUB, "/v1/credentials/wallet", json={"credential": cred["credential"]}, expect=(201,))
        rows.append(("ouranos", f"{short} (held by {HUB})", op["did"]))
    return rows


# ------------------------------------------------------------------------ 3. certified CFP


def _cell_cfp(story: Story) -> JSON:
    """The cell maker logs in to the hub and reads its cell's CFP (the hub's ``*Total`` rows:
    its own emissions plus its suppliers' released responses), which it shows the certifier."""
    cell = story.shared["ouranos.cell"]
    with story.ouranos(CELL_MAKER) as client:
        rows = {r["cfpType"]: r for r in client.cfp([cell["traceId"]])}
    values: JSON = {}
    for kind in ("preProduction", "mainProduction", "preComponent", "mainComponent"):
        row = rows.get(f"{kind}Total")
        if row is None:
            raise InvariantViolation(f"the hub answered no {kind}Total for the cell", rule="Ouranos GET cfp")
        values[kind] = row["ghgEmission"]
        if abs(float(row["ghgEmission"]) - float(cell[kind])) > 1e-4:
            raise InvariantViolation(
                f"the cell's {kind}Total reads {row['ghgEmission']} on the hub, the ouranos step wrote {cell[kind]}",
                field=f"cfp.{kind}Total",
                rule="the certifier certifies what the hub holds",
            )
    total = math.fsum(float(v) for v in values.values())
    return {
        "traceId": cell["traceId"],
        "ghgDeclaredUnit": cell["ghgDeclaredUnit"],
        "cfp": values,
        "total": round(total, 5),
        "dqr": cell["dqr"],
        "kwhPerUnit": cell["kwh_per_unit"],
    }


def _certify_cfp(story: Story) -> tuple[str, JSON, JSON]:
    """JP certifier issues the certified CFP; the car maker verifies and recognises it.
    Returns (credential, car maker's verification, the recycler's refusal)."""
    footprint = _cell_cfp(story)
    op = story.shared["ouranos.operators"][CELL_MAKER]
    subject = {
        "id": op["did"],
        "product": f"ouranos:traceId:{footprint['traceId']}",
        "framework": "ouranos-cfp",
        "footprint": footprint,
        "declaredUnit": footprint["ghgDeclaredUnit"],
        "certificationScheme": "Ouranos battery CFP calculation rules (third-party verification)",
        "computedAt": _iso(utc_now()),
    }
    issued = _issue(story, JP_OPERATOR, CFP, subject)["credential"]
    # the hub keeps it for the cell maker, next to its membership
    story.call("POST", HUB, "/v1/credentials/wallet", json={"credential": issued}, expect=(201,))
    claims = _cell_maker_claims(story)
    story.shared["trust.jp_claims.asked"] = claims
    cred, arrived = _arrived_through_bridge(story, issued, claims)
    story.shared["trust.jp_claims"] = arrived
    story.artefact(None, "trust/jp-claims.json", {"asked": claims, "arrived": arrived})
    verdict = story.call(
        "POST", HOLDER, "/v1/credentials/verify", json={"credential": cred, "requireType": CFP}, admin=False
    ).json()
    if not verdict.get("verified") or CFP not in verdict.get("acceptedAs", []):
        raise InvariantViolation(f"{HOLDER} did not accept the certified CFP: {verdict}", rule="recognition")
    elsewhere = story.call(
        "POST", VERIFIER, "/v1/credentials/verify", json={"credential": cred, "requireType": CFP}, admin=False
    ).json()
    if elsewhere.get("verified") or elsewhere.get("reason") != "not-recognised":
        raise InvariantViolation(
            f"{VERIFIER} has no recognition rule, yet answered {elsewhere.get('reason')}", rule="recognition"
        )
    story.artefact(None, "trust/cfp-verification.eu-carmaker.json", verdict)
    return cred, verdict, elsewhere


def _cell_maker_claims(story: Story) -> list[JSON]:
    """The cell maker, through the hub (which keeps its keys), asks ``jp-certifier`` to certify
    claims on its own signed summary of the cell lot it shipped into the traced battery
    (``POST /v1/ouranos/admin/operators/{id}/certification-requests``). Claims the data does not
    support are refused by the certifier. Returns what was asked and answered."""
    op = story.shared["ouranos.operators"][CELL_MAKER]
    battery = story.story["trace"]["battery"]
    trace = story.call("GET", HOLDER, "/v1/ledger/trace/" + quote(battery, safe="")).json()
    received = {str(b["lot"]) for b in trace["boundaries"]}
    sc = story.scenario
    lot = next(
        (
            str(e["receipt"]["from_lot"])
            for e in (sc.events if sc is not None else [])
            if e["kind"] == "receipt"
            and e["receipt"].get("from_owner") == op["did"]
            and any(str(o["lot"]) in received for o in e["outputs"])
        ),
        None,
    )
    if lot is None:
        raise InvariantViolation(f"no cell lot of {CELL_MAKER} upstream of {battery}", rule="demo.trust.jp-claims")
    asks: list[JSON] = [{"claim": "no-high-risk-origin", "element": el} for el in ("Li", "Ni", "Co")]
    asks.append({"claim": "recycled-content", "element": "Co", "threshold": 0.05})
    out: list[JSON] = []
    certifier = story.node(JP_OPERATOR).did
    for ask in asks:
        r = story.call(
            "POST",
            HUB,
            f"/v1/ouranos/admin/operators/{op['operatorId']}/certification-requests",
            json={"certifier": certifier, "lot": lot, **ask},
            expect=(201, 400),
        )
        out.append(
            {
                **ask,
                "issued": r.status_code == 201,
                **({"type": r.json()["type"]} if r.status_code == 201 else {"detail": r.json().get("detail", "")}),
            }
        )
    return out


def _arrived_through_bridge(story: Story, issued: str, claims: list[JSON]) -> tuple[str, list[JSON]]:
    """The cell maker's certificates reach the car maker with its upstream summary: the car
    maker traces its battery again (federated, through the bridge) and the hub attaches them to
    the cell maker's summary, because the cell maker released ``certificates`` to the car maker
    (the claims presented with their supply evidence left out); the car maker's own summary folds
    them in. The car maker verifies each claim it received; the Ouranos certifier's claims count
    on the Catena-X side through its recognition policy. Returns the CFP as the car maker holds
    it and, per claim the JP certifier issued, what the car maker's verification said."""
    battery = story.story["trace"]["battery"]
    story.call("GET", HOLDER, "/v1/trace/federated/" + quote(battery, safe=""))
    jws = story.call("GET", HOLDER, "/v1/ledger/summaries/" + quote(battery, safe="")).text.strip()
    held = list(decode_summary(_payload(jws)).credentials)
    if issued not in held:
        raise InvariantViolation(
            "the certified CFP did not arrive with the cell maker's summary through the bridge",
            rule="Japan → Europe: released certificates travel in the upstream summary",
        )
    jp = story.node(JP_OPERATOR).did
    arrived: list[JSON] = []
    for token in held:
        if "~" not in token:
            continue
        claims_seen = _payload(token.split("~")[0])
        if claims_seen.get("iss") != jp:
            continue
        ctype = ORIGIN if "originByCountry" in _disclosures(token) else RECYCLED
        verdict = story.call(
            "POST", HOLDER, "/v1/credentials/verify", json={"credential": token, "requireType": ctype}, admin=False
        ).json()
        if "supplyEvidence" in _disclosures(token):
            raise ConfidentialityViolation("a claim crossed the bridge with its supply evidence disclosed")
        arrived.append(
            {"type": ctype, "verified": bool(verdict.get("verified")), "acceptedAs": verdict.get("acceptedAs")}
        )
    if len(arrived) != sum(1 for c in claims if c["issued"]):
        raise InvariantViolation(
            f"{len(arrived)} of the cell maker's {sum(1 for c in claims if c['issued'])} certified claims arrived",
            rule="Japan → Europe: released certificates travel in the upstream summary",
        )
    return issued, arrived


# ---------------------------------------------------------------------- 4. certified claims


def _elements_of(material: str) -> set[str]:
    m = MATERIALS.get(material)
    return {str(e.value) for e in (m.fractions or {})} if m is not None else set()


def _evidence(story: Story, owner: str, lots: list[JSON], element: str, *, recycled: bool) -> list[JSON]:
    """What the holder shows the certifier behind a claim: the recovered lots (recycled
    content) or the mines (origin) upstream of the battery carrying ``element``, with sites and
    quantities. It goes into the credential only as selectively disclosable elements."""
    picked = [
        lot
        for lot in lots
        if element in _elements_of(lot["material"])
        and ((lot["recycled"] is not None and lot["kind"] == "recovery") if recycled else lot["kind"] == "extraction")
    ]
    out = []
    for lot in picked[:4]:
        full = story.call("GET", HOLDER, f"/v1/ledger/lots/{lot['id']}", params={"owner": owner}).json()
        out.append(
            {
                "site": lot["site"],
                "country": lot["country"],
                "lot": lot["id"],
                "material": lot["material"],
                "quantityKg": full["mass_kg"],
                **({"recycled": lot["recycled"]} if recycled else {}),
            }
        )
    return out


def _ask(story: Story, body: JSON) -> tuple[int, JSON]:
    """The holder asks the certifier (through its own node); 201 issued, 400 refused."""
    r = story.call("POST", HOLDER, "/v1/credentials/certification-requests", json=body, expect=(201, 400))
    return r.status_code, r.json()


def _payload(compact: str) -> JSON:
    """The payload of a compact JWS as the story reads it (unverified: the nodes verify)."""
    part = compact.split(".")[1]
    out: JSON = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return out


def _disclosures(presentation: str) -> str:
    """The decoded disclosures of an SD-JWT presentation (what a verifier can read besides the
    signed payload's plain claims)."""
    parts = presentation.split("~")[1:-1]
    return " ".join(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)).decode("utf-8", "replace") for p in parts)


def _present(story: Story, wallet_id: str, ctype: str, disclose: list[str], **verify: Any) -> tuple[str, JSON]:
    """Holder presents a held claim to the verifier with its nonce; the verifier checks it."""
    nonce = story.call("GET", VERIFIER, "/v1/auth/nonce", admin=False).json()
    body = {"walletId": wallet_id, "audience": nonce["audience"], "nonce": nonce["nonce"], "disclose": disclose}
    p = story.call("POST", HOLDER, "/v1/credentials/present", json=body).json()["presentation"]
    req = {"credential": p, "audience": nonce["audience"], "nonce": nonce["nonce"], "requireType": ctype, **verify}
    verdict: JSON = story.call("POST", VERIFIER, "/v1/credentials/verify", json=req, admin=False).json()
    return p, verdict


def _claims(story: Story) -> tuple[list[JSON], int]:
    """Certify, verify on receipt, present and verify elsewhere. Returns the table rows and how
    many certified claims the car maker verified."""
    # The car maker holds its battery's summary, with its suppliers' signed summaries folded in
    # (the ledger step); lot-level evidence (mines, recovered lots) stays with the tiers that hold
    # it, so the car maker's requests carry only what its own partition shows.
    owner = story.shared["ledger.owner"]
    battery = story.story["trace"]["battery"]
    path = "/v1/ledger/summaries/" + quote(battery, safe="")
    summary_jws = story.call("GET", HOLDER, path, params={"owner": owner}).text.strip()
    story.artefact(None, "trust/upstream-summary.jws", summary_jws + "\n")
    summary = decode_summary(_payload(summary_jws))
    trace = story.call("GET", HOLDER, "/v1/ledger/trace/" + quote(battery, safe=""), params={"owner": owner}).json()
    lots: list[JSON] = trace["lots"]
    certifier_did = story.node(CX_OPERATOR).did

    asks: list[tuple[str, JSON]] = []
    for el, minimum in ART8_MINIMUM.items():
        figures = summary.elements.get(el)
        if figures is None:
            continue
        share = float(figures.recycled.pre_consumer or 0.0) + float(figures.recycled.post_consumer or 0.0)
        if share <= 0.0:
            continue
        ev = _evidence(story, owner, lots, el, recycled=True)
        base = {"certifier": certifier_did, "summary": summary_jws, "claim": "recycled-content", "element": el}
        # ask for the Art. 8 minimum; where the data falls short the certifier refuses, and the
        # holder asks for what it can support (rounded down to a whole percent)
        asks.append((f"{el} recycled ≥ {minimum:.0%}", {**base, "threshold": minimum, "evidence": ev}))
        if share + 1e-12 < minimum:
            floor = math.floor(share * 100) / 100
            asks.append((f"{el} recycled ≥ {floor:.0%}", {**base, "threshold": floor, "evidence": ev}))
    for el in ORIGIN_ELEMENTS:
        if el in summary.elements:
            ev = _evidence(story, owner, lots, el, recycled=False)
            origin = {"certifier": certifier_did, "summary": summary_jws, "claim": "no-high-risk-origin", "element": el}
            asks.append((f"{el}: no high-risk origin", {**origin, "evidence": ev}))

    rows: list[JSON] = []
    verified_by_car = 0
    for label, body in asks:  # body: the certification request
        status, answer = _ask(story, body)
        row: JSON = {"claim": label, "issued": status == 201, "detail": answer.get("detail", "")}
        rows.append(row)
        if status != 201:
            continue
        row["id"], row["walletId"], row["type"] = answer["id"], answer["walletId"], answer["type"]
        # the holder checks what it received (all disclosures, no key binding)
        own = story.call(
            "POST",
            HOLDER,
            "/v1/credentials/verify",
            json={"credential": answer["credential"], "requireType": answer["type"]},
            admin=False,
        ).json()
        if not own.get("verified"):
            raise InvariantViolation(f"{HOLDER} could not verify its {label} credential: {own}", rule="certify")
        verified_by_car += 1
        secrets = [str(e[k]) for e in body["evidence"] for k in ("site", "lot", "quantityKg")]
        disclose = ["custodyModels"] if answer["type"] == RECYCLED else ["originByCountry", "minesReached"]
        p, verdict = _present(story, answer["walletId"], answer["type"], disclose)
        seen = _disclosures(p) + json.dumps(verdict)
        leaked = [s for s in secrets if s in seen]
        if leaked:
            raise ConfidentialityViolation(
                f"the {label} presentation disclosed supplier evidence {leaked[:3]}",
                rule='suppliers and quantities stay undisclosed (docs/architecture.md "Confidentiality")',
            )
        if not verdict.get("verified"):
            raise InvariantViolation(f"{VERIFIER} rejected the {label} presentation: {verdict}", rule="present")
        row["presented"] = verdict
    if not any(r["issued"] for r in rows) or all(r["issued"] for r in rows):
        raise InvariantViolation(
            "the certifier should issue supported claims and refuse unsupported ones",
            rule="a certifier signs only claims the summary supports",
        )
    return rows, verified_by_car


# ---------------------------------------------------------------------------- 5. revocation


def _revoke(story: Story, rows: list[JSON]) -> tuple[JSON, JSON]:
    """The certifier withdraws one claim; the same holder presents it again and the verifier,
    asking for a status list no older than the request, rejects it as revoked."""
    row = next(r for r in rows if r["issued"] and r["type"] == RECYCLED)
    story.call("POST", CX_OPERATOR, f"/v1/credentials/{row['id']}/revoke", expect=(204,))
    _, verdict = _present(story, row["walletId"], row["type"], [], statusMaxAgeS=0)
    if verdict.get("verified") or verdict.get("reason") != "revoked":
        raise InvariantViolation(f"a revoked credential was answered {verdict}", rule="W3C Bitstring Status List")
    story.artefact(None, "trust/revoked-verification.eu-recycler.json", verdict)
    return row, verdict


# ---------------------------------------------------------------------------------- the step


def run(story: Story) -> None:
    # the federation step operated the lists and issued the memberships (connectors need them first)
    lists = story.shared.get("federation.lists") or operate_trust_lists(story)
    members = story.shared.get("federation.members") or memberships(story)
    cfp, cfp_verdict, cfp_elsewhere = _certify_cfp(story)
    story.shared["trust.cfp_credential"] = cfp
    rows, verified = _claims(story)
    revoked_row, revoked = _revoke(story, rows)
    jp_claims: list[JSON] = story.shared.get("trust.jp_claims", [])
    # the recognised CFP, the cell maker's claims that arrived through the bridge, and its own
    story.story["claims_verified"] = 1 + sum(1 for c in jp_claims if c["verified"]) + verified
    _show(story, lists, members, cfp_verdict, cfp_elsewhere, rows, revoked_row, revoked)


def _chain(title: str, verdict: JSON) -> Table:
    t = Table(title=title)
    t.add_column("check")
    t.add_column("", justify="center")
    t.add_column("reason")
    for c in verdict.get("checks", []):
        t.add_row(c["check"], "[green]✓[/]" if c["ok"] else "[red]✗[/]", c["detail"])
    return t


def _show(
    story: Story,
    lists: dict[str, JSON],
    members: list[tuple[str, str, str]],
    cfp_verdict: JSON,
    cfp_elsewhere: JSON,
    rows: list[JSON],
    revoked_row: JSON,
    revoked: JSON,
) -> None:
    c = story.console
    for eco, tl in sorted(lists.items()):
        names = "; ".join(f"{i['name']}: {', '.join(i['credentialTypes'])}" for i in tl["issuers"])
        c.print(f"[bold]{eco}[/] trust list #{tl['sequence']} signed by {tl['operator']} → {names}")
    c.print(
        f"loaded on all {len(story.nodes)} nodes; {sum(1 for m in members if 'Governance' not in m[0])} "
        f"memberships and {sum(1 for m in members if 'Governance' in m[0])} framework agreements issued and held; "
        f"{HOLDER} recognises {POLICY['rules'][0]['label']}"
    )
    c.print(_chain(f"{HOLDER} verifies the JP certifier's certified CFP of the cell", cfp_verdict))
    asked: list[JSON] = story.shared.get("trust.jp_claims.asked", [])
    arrived: list[JSON] = story.shared.get("trust.jp_claims", [])
    jt = Table(
        title=f"claims certified by {JP_OPERATOR} on the cell maker's summary, arrived at {HOLDER} via the bridge"
    )
    jt.add_column("claim")
    jt.add_column(JP_OPERATOR)
    for a in asked:
        label = f"{a['element']}: " + (
            "no high-risk origin" if a["claim"] == "no-high-risk-origin" else f"recycled ≥ {a['threshold']:.0%}"
        )
        jt.add_row(label, "[green]issued[/]" if a["issued"] else f"[red]refused[/] {a.get('detail', '')}")
    c.print(jt)
    ok = sum(1 for a in arrived if a["verified"])
    c.print(f"{HOLDER} verified {ok} of {len(arrived)} (supply evidence undisclosed; recognised from Ouranos)")
    c.print(f"{VERIFIER} (no recognition rule): [yellow]{cfp_elsewhere['reason']}[/] — {cfp_elsewhere['detail']}")
    t = Table(title=f"claims certified by {CX_OPERATOR} from {HOLDER}'s signed upstream summary")
    t.add_column("claim")
    t.add_column("certifier")
    t.add_column(f"presented to {VERIFIER} (suppliers, quantities undisclosed)")
    for r in rows:
        if not r["issued"]:
            t.add_row(r["claim"], "[red]refused[/]", r["detail"])
            continue
        v = r.get("presented", {})
        t.add_row(r["claim"], "[green]issued[/]", "[green]verified[/]" if v.get("verified") else "[red]rejected[/]")
    c.print(t)
    c.print(
        f"revoked [bold]{revoked_row['claim']}[/]: {VERIFIER} answers [red]{revoked['reason']}[/] — {revoked['detail']}"
    )
    c.print(f"certified claims verified by the car maker: {story.story['claims_verified']}")
