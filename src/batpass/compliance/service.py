"""Compliance of what a node holds: a stored passport (or one read from another node with this
node's credentials) and a recycler, judged with the evidence the node holds — the passport, the
ledger's Art. 8 figures of the battery's model, year and plant, the footprint the node declared
(PACT) and the credentials it holds or received with the battery's upstream summary, each
verified now; a credential from another ecosystem counts only where its recognition rule admitted
it (named on the finding).

Reads the other capabilities through their public services only (passport, ledger, footprint,
trust); writes nothing but the passport's read audit entry (channel ``compliance``).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import anyio.to_thread
import httpx

from batpass.compliance._evaluate import evaluate, rulesets_for
from batpass.compliance._evidence import MATERIALS, METALS, passport_subjects
from batpass.compliance._recognition import MarketRecognition
from batpass.compliance._report import report_data
from batpass.compliance._rules import Ruleset
from batpass.compliance.model import Battery, Evidence, Finding, Recycler, Status
from batpass.core.errors import BatpassError, InvalidInput, NotFound
from batpass.core.ids import BatteryId
from batpass.footprint import FootprintFilter, PactService
from batpass.ledger import LedgerService
from batpass.passport import ALL_TIERS, PassportService
from batpass.trust import CredentialType, TrustService

__all__ = ["ComplianceService", "Evaluation", "RemotePassports"]


class RemotePassports(Protocol):
    """How this node reads a passport on another node with its own access-role credentials
    (``batpass.exchange.PassportFetcher`` implements it; the node wires it)."""

    async def read_passport(self, url: str, *, client: httpx.AsyncClient) -> tuple[Mapping[str, Any], bool]:
        """The serving node's passport document and whether it serves a QR code; raises
        ``InvalidInput``, ``NotFound``, ``Forbidden`` or ``UpstreamUnavailable``."""
        ...


log = logging.getLogger("batpass.compliance")

#: credential type → what it evidences (the certified claims of docs/trust-lists.md)
PURPOSE_OF: Mapping[str, str] = {
    CredentialType.CERTIFIED_CARBON_FOOTPRINT.value: "verified_footprint",
    CredentialType.ORIGIN.value: "due_diligence",
    CredentialType.RECYCLED_CONTENT.value: "due_diligence",
}


@dataclass(frozen=True)
class Evaluation:
    """One evaluation: the subject described, the date, the rulesets, the findings and the
    evidence held (credentials that did not verify are listed with the reason, never counted)."""

    at: dt.date
    rulesets: tuple[Ruleset, ...]
    findings: list[Finding]
    evidence: tuple[Evidence, ...]
    battery: Battery | None = None
    recycler: Recycler | None = None
    refused: tuple[Mapping[str, str], ...] = field(default=())
    #: the recognition rules applied: the market's side's (none without a trust service)
    recognition: MarketRecognition | None = None

    def report(self) -> dict[str, Any]:
        """The JSON report: ``report_data``'s members for a battery (findings now name their
        evidence), with ``evidence`` (everything held), ``refused`` and ``evidence_recognised``
        (how many findings counted a recognised certificate)."""
        if self.battery is not None:
            out = report_data(self.battery, self.at, self.findings, self.rulesets)
        else:
            assert self.recycler is not None
            out = {
                "subject": self.recycler.name,
                "at": self.at.isoformat(),
                "rulesets": [f"{rs.name}@{rs.version}" for rs in self.rulesets],
                "summary": {s.value: sum(1 for f in self.findings if f.status == s) for s in Status},
                "findings": [f.as_dict() for f in self.findings],
            }
        out["evidence"] = [e.as_dict() for e in self.evidence]
        out["refused"] = [dict(r) for r in self.refused]
        out["evidence_recognised"] = sum(1 for f in self.findings if any(e.recognition for e in f.evidence))
        out["recognition"] = None if self.recognition is None else self.recognition.as_dict()
        return out


class ComplianceService:
    def __init__(
        self,
        *,
        owner: str,
        passports: PassportService | None,
        ledger: LedgerService | None,
        trust: TrustService | None,
        pact: PactService | None = None,
        local_bases: Sequence[str] = (),
        remote: RemotePassports | None = None,
    ) -> None:
        self.owner = owner
        self._remote = remote
        #: this node's base and resolver URLs: a passport URL under one of them is stored here
        self.local_bases = tuple(b.rstrip("/") + "/" for b in local_bases)
        self._passports = passports
        self._ledger = ledger
        self._trust = trust
        self._pact = pact

    # --- a stored passport ----------------------------------------------------------------------

    async def passport(
        self,
        reference: str,
        at: dt.date,
        *,
        market: str | None = None,
        ruleset: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> Evaluation:
        """The findings for the passport ``reference`` at ``at``, for ``market`` (or one
        ``ruleset``): a passport stored on this node (its id, ``urn:uuid:`` id, battery identifier
        or URL under this node), or the https URL of a passport on another node, read with
        ``client`` (:meth:`remote_passport`)."""
        rulesets = rulesets_for(market, ruleset)
        recognition = None if self._trust is None else MarketRecognition.of(self._trust, market, ruleset)
        if reference.startswith(("https://", "http://")) and not reference.startswith(self.local_bases):
            if client is None:
                raise InvalidInput(
                    f"{reference} is on another node, and no client reaches it",
                    field="passport",
                    rule="a passport on another node is read over HTTPS",
                )
            return await self.remote_passport(reference, at, client=client, rulesets=rulesets, recognition=recognition)
        if "/v1/passports/" in reference:  # this node's API URL of the passport
            reference = reference.split("/v1/passports/", 1)[1].split("/", 1)[0]
        doc, has_qr = await anyio.to_thread.run_sync(self._stored, reference)
        battery_id = str(doc["batteryId"])
        recycled, footprint, tokens = await anyio.to_thread.run_sync(self._ledger_evidence, battery_id)
        carried = [(str(t), "carried by the passport") for t in doc["data"].get("credentials") or []]
        credentials, refused = await self._verified([*carried, *tokens], battery_id, recognition)
        return await anyio.to_thread.run_sync(
            self._evaluate, doc, has_qr, recycled, footprint, credentials, refused, at, rulesets, recognition
        )

    def _stored(self, reference: str) -> tuple[dict[str, Any], bool]:
        if self._passports is None:
            raise NotFound("this node keeps no passports", rule="passports need an HTTPS backup node")
        svc = self._passports
        try:
            pid = svc.passport_id_of(reference) if not _is_uuid(reference) else uuid.UUID(reference)
        except BatpassError as exc:
            raise InvalidInput(
                f"passport {reference!r} is neither a passport id nor a battery identifier",
                field="passport",
                rule="a passport id (UUID, urn:uuid:) or a battery identifier (GS1 Digital Link)",
            ) from exc
        if pid is None:
            raise NotFound(f"no passport for {reference} on this node", rule="passport lookup")
        p = svc.get(pid)
        # the economic operator reads its own passport in full (the read is audited)
        view = svc.read(p, roles=("operator",), tiers=ALL_TIERS, channel="compliance")
        doc = {
            "passportId": p.urn,
            "batteryId": p.digital_link,
            "status": "ended" if p.ended else p.status.value,
            "version": p.version,
            "tiers": sorted(t.value for t in ALL_TIERS),
            "data": view,
        }
        return doc, True  # a stored passport's QR code is served (GET /v1/passports/{id}/qr.svg)

    def _ledger_evidence(
        self, battery: str
    ) -> tuple[list[dict[str, Any]] | None, dict[str, Any] | None, list[tuple[str, str]]]:
        """The ledger's Art. 8 group of the battery (``None`` when the ledger holds no such
        battery), the footprint this node declared for its product, and the credentials to check:
        those received with the battery's upstream summary, and held ones about the battery."""
        recycled: list[dict[str, Any]] | None = None
        tokens: list[tuple[str, str]] = []
        if self._ledger is not None:
            try:
                lot = self._ledger.resolve_subject(self.owner, battery)
            except NotFound:
                lot = None
            if lot is not None and lot.battery is not None:
                recycled = self._ledger.recycled_content(
                    self.owner, model=lot.battery.model, year=lot.produced_at.year, plant=lot.site
                )
                summary = self._ledger.summary(self.owner, battery)
                tokens += [(t, "received with the battery's upstream summary") for t in summary.credentials]
        if self._trust is not None:
            held = self._trust.held(PURPOSE_OF)
            tokens += [(t, "held in this node's wallet") for t in held if (t, "") not in tokens]
        footprint: dict[str, Any] | None = None
        if self._pact is not None:
            product = f"urn:gtin:{BatteryId.parse(battery).gtin}"
            page = self._pact.list_footprints(FootprintFilter(product_ids=(product,), statuses=("Active",)))
            footprint = dict(page.documents[-1]) if page.documents else None
        return recycled, footprint, tokens

    async def _verified(
        self, tokens: Sequence[tuple[str, str]], battery: str, recognition: MarketRecognition | None
    ) -> tuple[list[Evidence], list[dict[str, str]]]:
        """Each credential verified now by this node's trust (lists, status): what it counts as,
        the ecosystem that admits its issuer, and — when that is not the judged market's ecosystem —
        the recognition rule of the market's side that made it count (``recognition``); one no such
        rule admits is listed as refused. Held credentials count only when they are about this
        battery (their ``product``)."""
        out: list[Evidence] = []
        refused: list[dict[str, str]] = []
        if self._trust is None:
            return out, refused
        registry = self._trust.registry
        seen: set[str] = set()
        for token, where in tokens:
            if token in seen:
                continue
            seen.add(token)
            try:
                v = await self._trust.verify(token)
            except BatpassError as exc:
                refused.append({"where": where, "reason": str(getattr(exc, "reason", "") or type(exc).__name__)})
                continue
            if where.startswith("held") and v.subject.get("product") != battery:
                continue
            counts = sorted(t for t in v.accepted_as if t in PURPOSE_OF)
            if not counts:
                continue
            ctype = counts[0]
            ecosystem = next((eco for eco, tl in sorted(registry.lists.items()) if tl.entries_for(v.issuer)), None)
            rules = recognition or MarketRecognition.of(self._trust, None)
            counted, rule, why = rules.admit(ecosystem, v.types, v.subject)
            if not counted:
                refused.append({"where": where, "reason": f"{ctype} issued by {v.issuer}: {why}"})
                continue
            element = v.subject.get("element")
            covers = (
                frozenset({MATERIALS[element]}) if isinstance(element, str) and element in MATERIALS else frozenset()
            )
            if ctype == CredentialType.RECYCLED_CONTENT.value and isinstance(element, str) and element in METALS:
                covers = frozenset({METALS[element]}) | covers
            out.append(
                Evidence(
                    PURPOSE_OF[ctype],
                    f"{ctype} issued by {v.issuer} ({where})",
                    credential_type=ctype,
                    ecosystem=ecosystem,
                    recognition=rule,
                    covers=covers,
                )
            )
        return out, refused

    def _evaluate(
        self,
        doc: Mapping[str, Any],
        has_qr: bool,
        recycled: Sequence[Mapping[str, Any]] | None,
        footprint: Mapping[str, Any] | None,
        credentials: Sequence[Evidence],
        refused: Sequence[Mapping[str, str]],
        at: dt.date,
        rulesets: tuple[Ruleset, ...],
        recognition: MarketRecognition | None = None,
    ) -> Evaluation:
        battery, operator = passport_subjects(
            doc,
            has_qr_code=has_qr,
            recycled=recycled,
            footprint=footprint,
            credentials=credentials,
            operator=str(doc.get("data", {}).get("operator") or self.owner),
        )
        findings = evaluate(battery, at, rulesets=rulesets) + evaluate(operator, at, rulesets=rulesets)
        held = tuple(dict.fromkeys((*battery.model.evidence, *operator.evidence)))
        return Evaluation(
            at, rulesets, findings, held, battery=battery, refused=tuple(refused), recognition=recognition
        )

    # --- a passport on another node ---------------------------------------------------------------

    async def remote_passport(
        self,
        url: str,
        at: dt.date,
        *,
        client: httpx.AsyncClient,
        rulesets: tuple[Ruleset, ...],
        recognition: MarketRecognition | None = None,
    ) -> Evaluation:
        """A passport read from another node (``https://…/v1/passports/{id}`` or its GS1 Digital
        Link URL) with this node's access-role credentials presented (a ``vp+jwt`` for the serving
        node's DID and a nonce it handed out); without any, the public tier — read through the
        node's :class:`RemotePassports` (``batpass.exchange.fetch_passport``, the one fetch the
        console shares). Its Art. 8 figures
        are what the passport states (this node's ledger holds no other operator's battery); the
        credentials it carries are verified by this node, under this node's recognition policy."""
        if self._remote is None:
            raise InvalidInput(
                f"{url} is on another node, and this node reads no remote passports",
                field="passport",
                rule="a passport on another node is read over HTTPS",
            )
        read, has_qr = await self._remote.read_passport(url, client=client)
        doc = dict(read)
        data = doc.get("data") if isinstance(doc, dict) else None
        carried = [(str(t), "carried by the passport") for t in (data or {}).get("credentials") or []]
        credentials, refused = await self._verified(carried, str(doc.get("batteryId")), recognition)
        return await anyio.to_thread.run_sync(
            self._evaluate,
            doc,
            has_qr,
            None,
            None,
            credentials,
            refused,
            at,
            rulesets,
            recognition,
        )

    # --- a recycler -------------------------------------------------------------------------------

    def recycler(
        self, recycler: str, at: dt.date, *, market: str | None = None, ruleset: str | None = None
    ) -> Evaluation:
        """A recycler known to this node's ledger (its DID, or this node's own): Annex XII
        material recovery from its recovery events' declared yields (mass-weighted over the
        recovered outputs); recycling efficiency, which no event states, is "not yet
        determinable"."""
        rulesets = rulesets_for(market, ruleset)
        if self._ledger is None:
            raise NotFound("this node keeps no ledger", rule="a recycler's figures are read from the ledger")
        if recycler not in self._ledger.owners():
            raise NotFound(
                f"recycler {recycler} has no records in this node's ledger (known: {', '.join(self._ledger.owners())})",
                rule="a recycler's figures are read from the ledger",
            )
        recovery, events = _recovery(self._ledger, recycler)
        subject = Recycler(
            name=recycler,
            recovery=recovery,
            # a material without a declared yield, and efficiency (no event states it), are unknown
            unknown=frozenset({"efficiency", "recovery"}),
            evidence=(Evidence("recycling_figures", f"{events} recovery events of {recycler} in the ledger"),),
        )
        findings = evaluate(subject, at, rulesets=rulesets)
        return Evaluation(at, rulesets, findings, subject.evidence, recycler=subject)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


#: ledger element symbol → the Annex XII Part C material names
_RECOVERY = {"Co": "cobalt", "Cu": "copper", "Pb": "lead", "Ni": "nickel", "Li": "lithium"}


def _recovery(ledger: LedgerService, owner: str) -> tuple[dict[str, Decimal], int]:
    """Mean yield per Annex XII Part C material declared per element on ``owner``'s recovery
    events, and how many recovery events there were."""
    sums: dict[str, list[Decimal]] = {}
    events, after = 0, 0
    while True:
        page = ledger.events(owner, after_seq=after, limit=500)
        if not page:
            break
        for e in page:
            after = max(after, int(e.get("seq", after)))
            body = e.get("event", e)
            if body.get("kind") != "recovery":
                continue
            events += 1
            declared = body.get("yield")
            if not isinstance(declared, dict):  # one yield for every element: not a per-material figure
                continue
            for symbol, y in declared.items():
                if symbol in _RECOVERY and y is not None:
                    sums.setdefault(_RECOVERY[symbol], []).append(Decimal(str(y)))
        if len(page) < 500:
            break
    return {k: sum(v, Decimal(0)) / len(v) for k, v in sums.items()}, events
