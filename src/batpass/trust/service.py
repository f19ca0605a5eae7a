"""Trust use cases of one node: issue, revoke and publish status; verify credentials through
the trust lists and recognition policy; hand out and consume nonces; hold credentials and
answer DCP presentation queries; certify claims from signed upstream summaries.

A thin facade: :class:`TrustService` builds the node's DID resolver, trust registry, status-list
cache and verifier once (one :class:`~batpass.trust._context.TrustContext`) and the components
that share them, one per role — the issuer with its status lists (``_issuer.py``), the nonces
(``_nonces.py``), recognition and the trust-list operator (``_recognition.py``), the relying party
(``_relying_party.py``) and the holder (``_holder.py``) — and the one clock (``clock``, a
:class:`batpass.core.clock.Clock`) every one of them stamps, signs and checks time with. Each of its
methods delegates in one line to the component method of the same name, so callers need not know
the components.

Constructed by the composition root as::

    TrustService(engine, identity, base_url=..., ecosystem="catena-x",
                 operators={"catena-x": "did:web:...", "ouranos": "did:web:..."},
                 allowed_hosts=[...], client=ctx.client, sync_client=ctx.sync_client)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import httpx
from sqlalchemy import Engine

from batpass.core.clock import Clock, SystemClock
from batpass.core.errors import InvalidInput
from batpass.core.findings import Finding
from batpass.trust._context import StandingFindings, TrustContext
from batpass.trust._dcp import DcpParticipantVerifier
from batpass.trust._did import OwnDocument, subject_did_document
from batpass.trust._holder import Holder
from batpass.trust._issuer import IssuedCredential, Issuer, StatusLists
from batpass.trust._keys import NodeIdentity
from batpass.trust._nonces import Nonces
from batpass.trust._recognition import Recognition
from batpass.trust._relying_party import RelyingParty
from batpass.trust._resolver import DidResolver, GuardedFetcher
from batpass.trust._status import StatusListCache
from batpass.trust._trustlist import TrustRegistry, validate_json
from batpass.trust._verify import Verifier
from batpass.trust.model import RecognitionPolicy, TrustList, Verification, VerifiedRoles

__all__ = ["IssuedCredential", "TrustService"]


class TrustService:
    def __init__(
        self,
        engine: Engine,
        identity: NodeIdentity,
        *,
        base_url: str,
        ecosystem: str = "catena-x",
        operators: Mapping[str, str] | None = None,
        allowed_hosts: Iterable[str] = (),
        client: httpx.AsyncClient | None = None,
        sync_client: httpx.Client | None = None,
        profiles: Sequence[str] = (),
        status_max_age_s: float = 300.0,
        did_ttl_s: float = 300.0,
        bpn: str | None = None,
        clock: Clock = SystemClock(),
        market_policies: Sequence[Mapping[str, Any]] = (),
        bridge: str | None = None,
    ) -> None:
        self.engine = engine
        self.identity = identity
        self.base_url = base_url.rstrip("/")
        self.ecosystem = ecosystem
        self.operators = dict(operators or {})
        self.profiles = tuple(profiles)
        #: a hub's bridge (its DID), named in the hub's DID document
        self.bridge = bridge
        self.bpn = bpn
        self.client = client
        self.clock = clock
        self.fetcher = GuardedFetcher(allowed_hosts=allowed_hosts, client=client, sync_client=sync_client)
        self.resolver = DidResolver(self.fetcher, ttl_s=did_ttl_s)
        # the node's own document follows a key rotation made by another process (keys rotate)
        self.resolver.pin_live(
            identity.did, OwnDocument(identity, base_url=self.base_url, profiles=self.profiles, bridge=bridge)
        )
        # the node's own status lists are read from its store, not fetched: they come first
        self.status_lists = StatusLists(engine, identity, base_url=self.base_url, clock=clock)
        self.status = StatusListCache(
            self.resolver, max_age_s=status_max_age_s, local=self.status_lists.local_token, wall_clock=clock
        )
        self.registry = TrustRegistry(ecosystem)
        self.verifier = Verifier(self.resolver, self.registry, self.status, clock=clock)
        self.context = TrustContext(
            engine=engine,
            identity=identity,
            base_url=self.base_url,
            ecosystem=ecosystem,
            operators=self.operators,
            profiles=self.profiles,
            bpn=bpn,
            client=client,
            fetcher=self.fetcher,
            resolver=self.resolver,
            status=self.status,
            registry=self.registry,
            verifier=self.verifier,
            findings=StandingFindings(),
            clock=clock,
        )
        self.issuer = Issuer(self.context, self.status_lists)
        self.nonces = Nonces(self.context)
        self.recognition = Recognition(self.context)
        self.relying_party = RelyingParty(self.context, self.nonces)
        self.holder = Holder(self.context)
        self.recognition.load()
        #: the recognition rules of another ecosystem's side, which this node applies when it
        #: judges for that side's market (node configuration ``market_recognition``)
        self.market_policies = _market_policies(market_policies, own=ecosystem)

    # --- DIDs -------------------------------------------------------------------------------

    def did_document(self) -> dict[str, Any]:
        return subject_did_document(self.identity, base_url=self.base_url, profiles=self.profiles, bridge=self.bridge)

    # --- self-audit (recognition reads the whole signed store) ------------------------------

    def self_audit(self) -> list[Finding]:
        """Check every stored trust list, pinned key, policy and held credential against its
        signed form now; each row that does not verify (or whose plain columns differ from it) is
        a finding naming table, key and rule. The registry in memory is left as loaded."""
        return self.recognition.self_audit()

    @property
    def findings(self) -> tuple[Finding, ...]:
        """The findings of the last load or :meth:`self_audit` (and of wallet reads since)."""
        return self.context.findings.items

    @property
    def healthy(self) -> bool:
        """False while a finding stands: something stored was tampered with or is stale."""
        return not self.context.findings.items

    # --- issuer and its status lists --------------------------------------------------------

    def status_list_url(self, list_id: str) -> str:
        return self.status_lists.status_list_url(list_id)

    def status_list_token(self, list_id: str) -> str:
        """The signed status-list credential served at :meth:`status_list_url` (cached per version)."""
        return self.status_lists.status_list_token(list_id)

    def token_status_token(self, list_id: str) -> str:
        """The same list as a signed IETF Token Status List (``statuslist+jwt``)."""
        return self.status_lists.token_status_token(list_id)

    def issue(
        self,
        ctype: str,
        subject: Mapping[str, Any],
        *,
        format: str = "vc+jwt",
        holder_jwk: Mapping[str, Any] | None = None,
        disclosable: Sequence[str] = (),
        valid_for: dt.timedelta = dt.timedelta(days=365),
        alg: str = "Ed25519",
        summary_digest: str | None = None,
    ) -> IssuedCredential:
        """Issue a credential of a batpass type with a revocation status entry."""
        return self.issuer.issue(
            ctype,
            subject,
            format=format,
            holder_jwk=holder_jwk,
            disclosable=disclosable,
            valid_for=valid_for,
            alg=alg,
            summary_digest=summary_digest,
        )

    def revoke(self, credential_id: str) -> None:
        """Set the credential's revocation bit; verifiers see it once their cache ages out."""
        self.issuer.revoke(credential_id)

    def issued(self) -> list[dict[str, Any]]:
        return self.issuer.issued()

    async def certify(
        self,
        summary_jws: str,
        *,
        holder: str,
        claim: str,
        element: str | None = None,
        threshold: float | None = None,
        framework: str | None = None,
        evidence: Sequence[Mapping[str, Any]] = (),
        format: str = "dc+sd-jwt",
        holder_jwk: Mapping[str, Any] | None = None,
    ) -> IssuedCredential:
        """Verify the holder's signed upstream summary and issue the claim computed from it
        (docs/architecture.md "Flows", flow 5)."""
        return await self.issuer.certify(
            summary_jws,
            holder=holder,
            claim=claim,
            element=element,
            threshold=threshold,
            framework=framework,
            evidence=evidence,
            format=format,
            holder_jwk=holder_jwk,
        )

    # --- nonces (GET /v1/auth/nonce) --------------------------------------------------------

    def issue_nonce(self, *, audience: str | None = None, ttl_s: int = 300) -> str:
        return self.nonces.issue_nonce(audience=audience, ttl_s=ttl_s)

    def consume(self, nonce: str, *, audience: str) -> None:
        """Single use: the first consumer wins (conditional UPDATE); reuse is a replay."""
        self.nonces.consume(nonce, audience=audience)

    # --- trust lists and policy -------------------------------------------------------------

    async def add_trust_list(self, jws: str, *, ecosystem: str) -> TrustList:
        """Verify a trust list signed by the configured operator of ``ecosystem`` and keep it,
        its signing key checked against the operator's pinned keys (docs/trust-lists.md)."""
        return await self.recognition.add_trust_list(jws, ecosystem=ecosystem)

    def sign_trust_list(self, data: Mapping[str, Any]) -> str:
        """This node as an ecosystem operator: sign a trust list (schema-checked; its
        ``operator`` must be this node's DID) with the node's active Ed25519 key."""
        return self.recognition.sign_trust_list(data)

    def trust_lists(self) -> list[TrustList]:
        return self.recognition.trust_lists()

    def set_policy(self, data: Mapping[str, Any]) -> RecognitionPolicy:
        return self.recognition.set_policy(data)

    # --- verifying --------------------------------------------------------------------------

    async def verify(self, token: str, **kw: Any) -> Verification:
        return await self.relying_party.verify(token, **kw)

    async def verify_presented(
        self,
        token: str,
        *,
        require_type: str | None = None,
        audience: str | None = None,
        nonce: str | None = None,
        status_max_age_s: float | None = None,
    ) -> Verification:
        """``POST /v1/credentials/verify``: a credential, or an SD-JWT presentation with key
        binding when ``audience`` is given (its nonce, handed out by this node, is consumed)."""
        return await self.relying_party.verify_presented(
            token, require_type=require_type, audience=audience, nonce=nonce, status_max_age_s=status_max_age_s
        )

    async def verify_role_presentation(self, token: str) -> VerifiedRoles:
        return await self.relying_party.verify_role_presentation(token)

    async def roles_for(self, bearer_token: str | None) -> frozenset[str]:
        """The passport package's ``RoleVerifier`` port: no token → no role; a bad one raises."""
        return await self.relying_party.roles_for(bearer_token)

    def participant_verifier(self) -> DcpParticipantVerifier:
        """The node's one DCP participant verifier (it keeps verified presentations briefly)."""
        return self.relying_party.participant_verifier()

    # --- wallet and presentations -----------------------------------------------------------

    def hold(self, token: str) -> str:
        """Keep a credential this node received, verified with its issuer's DID key and recorded
        by the node so it is verified again, offline, whenever it is used."""
        return self.holder.hold(token)

    def wallet(self) -> list[dict[str, Any]]:
        """What this node holds, read from the verified tokens."""
        return self.holder.wallet()

    def held_token(self, wallet_id: str) -> str:
        return self.holder.held_token(wallet_id)

    def held(self, types: Iterable[str] | None = None, *, subject: str | None = None) -> list[str]:
        """Held credentials (tokens) that verify, of ``types`` if given, issued to ``subject`` if given."""
        return self.holder.held(types, subject=subject)

    def present(self, token: str, *, audience: str, nonce: str, disclose: Sequence[str] = ()) -> str:
        """A presentation of a held credential (SD-JWT with key binding, or a ``vp+jwt``)."""
        return self.holder.present(token, audience=audience, nonce=nonce, disclose=disclose)

    async def request_certification(
        self,
        certifier: str,
        summary_jws: str,
        *,
        claim: str,
        element: str | None = None,
        threshold: float | None = None,
        framework: str | None = None,
        evidence: Sequence[Mapping[str, Any]] = (),
        hold: bool = True,
        holder: NodeIdentity | None = None,
    ) -> dict[str, Any]:
        """Holder side of flow 5 (docs/architecture.md "Flows"): ask the certifier node to
        certify ``claim`` from this node's (or ``holder``'s) signed upstream summary."""
        return await self.holder.request_certification(
            certifier,
            summary_jws,
            claim=claim,
            element=element,
            threshold=threshold,
            framework=framework,
            evidence=evidence,
            hold=hold,
            holder=holder,
        )

    async def answer_query(self, authorization: str | None, query: Mapping[str, Any]) -> dict[str, Any]:
        """DCP presentation query: a ``vp+jwt`` for the verified caller over the held credentials
        of the requested types issued to this node."""
        return await self.holder.answer_query(authorization, query)


def _market_policies(raw: Sequence[Mapping[str, Any]], *, own: str) -> dict[str, RecognitionPolicy]:
    """Each configured policy checked against ``recognition-policy.schema.json``, by ecosystem;
    the node's own ecosystem's policy is refused (that one is stored, signed, ``PUT
    /v1/trust/policy``)."""
    out: dict[str, RecognitionPolicy] = {}
    for i, data in enumerate(raw):
        where = f"market_recognition[{i}]"
        try:
            validate_json(data, "recognition-policy.schema.json")
        except InvalidInput as exc:
            raise InvalidInput(f"{where}.{exc}", field=f"{where}.{exc.field}", rule=exc.rule) from exc
        policy = RecognitionPolicy.from_json(data)
        if policy.ecosystem == own:
            raise InvalidInput(
                f"{where}: the {own} policy is this node's own (PUT /v1/trust/policy), not a market's rules",
                field=f"{where}.ecosystem",
                rule="market_recognition holds the rules of other ecosystems' markets",
            )
        out[policy.ecosystem] = policy
    return out
