"""The Ouranos hub's use cases: the published data transaction API's operations and the platform
rules behind them, for many operators at once.

Rules enforced here, in the domain (the published OpenAPI of ``ouranos-ecosystem-idi/data-transaction-system``
and the traceability back end its client code shows; docs/rules.md "Ouranos CFP"):

- an operator reads and writes only its own records; ids of others' records answer "not found";
- a trade link exists only once the supplier accepts by linking its own part
  (``PUT tradeResponse``); the buyer cancels, the supplier rejects (with a reply message);
- the supplier never sees the buyer's ``amountRequired`` (``GET tradeResponse`` nulls it);
- a buyer sees one tier up, and only the totals per stage, ratings and certificate files the
  supplier released to that buyer (``cfpAcl`` ``TOTALCFP``/``TOTALDQR``, ``cfpCertificationAcl``);
- parts structures are two levels deep; a part in a structure or a live trade cannot be deleted;
- a CFP write carries all four own/parts values; values keep 5 decimals, rounded up at the 6th
  (:func:`batpass.footprint.ouranos_round`).

Each use case is one unit of work: it commits once or leaves nothing behind.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy import Engine, and_, or_

from batpass.core.errors import Conflict, InvalidIdentifier, InvalidInput, NotFound
from batpass.core.ids import Bpnl, Did, OuranosOperatorId, OuranosPlantId, new_uuid7
from batpass.footprint import OuranosCfp, OuranosDqr, OuranosDqrMapping, ouranos_parent_cfp, ouranos_round
from batpass.ouranos._pact_export import CfpExport, pact_v3_of_cfp
from batpass.ouranos._sql import OuranosStore, trades
from batpass.ouranos.errors import AccessDenied, ApiKeyRejected, InvalidToken, NotYourData, RequestClosed
from batpass.ouranos.model import (
    ACTIVE_STATES,
    FINAL_STATES,
    WRITABLE_CFP_TYPES,
    AclItemGroup,
    Certification,
    CertificationFile,
    CertificationRelease,
    CfpEntry,
    CfpRecord,
    CfpRelease,
    CfpResponseStatus,
    CfpType,
    Dqr,
    DqrType,
    Notification,
    NotificationType,
    Operator,
    Page,
    Part,
    PartDraft,
    PartsStructure,
    Plant,
    RequestProgress,
    StatusTarget,
    Trade,
    TradeRequestDraft,
    TradeRole,
    TradeTreeStatus,
    certificate_extension,
    check_password,
    transition,
)
from batpass.store import UnitOfWork
from batpass.trust import NodeIdentity, did_document, load_or_create_identity

__all__ = ["OuranosHub", "Principal"]

ACCESS_TTL_S = 3600
REFRESH_TTL_S = 30 * 24 * 3600
LOCKOUT_AFTER = 5
LOCKOUT_S = 300
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_TOKEN_ALG = "Ed25519"
_MAX_DEPTH = 32


@dataclass(frozen=True)
class Principal:
    """Who calls: an account of a hosted operator, proven by the hub's token and an API key."""

    operator_id: str
    account_id: str


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    salt_b64, digest_b64 = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt_b64}${digest_b64}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt_b64, digest_b64 = stored.split("$")
        digest = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt_b64), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _uuid() -> str:
    return str(new_uuid7())


def _name_key(plant_id: str, parts_name: str, support: str | None) -> str:
    """traceId is minted per (operator, plant, partsName, supportPartsName) (OpenAPI PUT parts)."""
    return _sha256("\x1f".join((plant_id, parts_name, support or "")))


def _odqr(d: Dqr) -> OuranosDqr | None:
    if d.ter is None or d.ger is None or d.tir is None:
        return None
    return OuranosDqr(d.ter, d.ger, d.tir)


def _dqr(d: OuranosDqr | None) -> Dqr:
    return Dqr(None, None, None) if d is None else Dqr(d.ter, d.ger, d.tir)


#: what an operator may release to a Catena-X partner through its bridge
BRIDGE_SCOPES = ("upstream-summary", "downstream-recall", "cfp", "certificates")


@dataclass(frozen=True)
class BridgeLink:
    """The bridge that is the hub operators' Catena-X connector: its DID (tokens are addressed
    to it) and its Dataspace Protocol endpoint (``…/api/dsp/2025-1``)."""

    did: str
    dsp_url: str


@dataclass(frozen=True)
class BridgeRelease:
    partner_bpnl: str
    scope: str
    released_at: dt.datetime


class OuranosHub:
    """The hub service. Construct with the node's engine, the node identity (signs the hub's
    access tokens), the folder holding hosted operators' keys, and the hub's public base URL
    (its host and port make each operator's ``did:web``)."""

    def __init__(
        self,
        engine: Engine,
        identity: NodeIdentity,
        *,
        hub_home: Path,
        base_url: str,
        clock: Callable[[], dt.datetime] = _now,
        pact_dqr_mapping: OuranosDqrMapping | None = None,
        bridge: BridgeLink | None = None,
    ) -> None:
        self.engine = engine
        #: the bridge that offers released data on Catena-X (none: nothing leaves through one)
        self.bridge = bridge
        #: how raw Ouranos ratings map onto 1–5 in the PACT export (none configured: no ``dqi``)
        self.pact_dqr_mapping = pact_dqr_mapping
        self.identity = identity
        self.hub_home = hub_home
        split = urlsplit(base_url)
        if not split.hostname:
            raise InvalidInput(f"base_url {base_url!r} has no host", field="base_url", rule="an absolute URL")
        self.host = split.hostname
        self.port = split.port
        self.clock = clock
        self._identities: dict[str, NodeIdentity] = {}

    # ================================================================ admin: onboarding

    def operator_did(self, operator_id: str) -> Did:
        return Did.web(self.host, self.port, "operators", operator_id)

    def operator_identity(self, operator_id: str) -> NodeIdentity:
        """The keys the hub holds on the operator's behalf (created at onboarding)."""
        if operator_id not in self._identities:
            with UnitOfWork(self.engine, write=False) as uow:
                if OuranosStore(uow).operator(operator_id) is None:
                    raise NotFound(f"no operator {operator_id} on this hub", rule="hosted operators only")
            self._identities[operator_id] = load_or_create_identity(
                self.hub_home / "operators" / operator_id, str(self.operator_did(operator_id))
            )
        return self._identities[operator_id]

    def operator_did_document(self, operator_id: str) -> dict[str, Any]:
        """The operator's DID document; once it has released anything to a Catena-X partner,
        its ``DataService`` is the bridge's connector, which it names as ``participantId`` (the
        bridge operates that connector for the operator, so tokens are addressed to the bridge)."""
        doc = did_document(self.operator_identity(operator_id))
        if self.bridge is not None:
            with UnitOfWork(self.engine, write=False) as uow:
                released = bool(OuranosStore(uow).bridge_releases(operator_id))
            if released:
                doc["service"] = [
                    {
                        "id": f"{doc['id']}#dsp",
                        "type": "DataService",
                        "serviceEndpoint": self.bridge.dsp_url,
                        "participantId": self.bridge.did,
                    }
                ]
        return doc

    def operator_id_of(self, did: str) -> str | None:
        """The hosted operator a DID names (``did:web:<hub>:operators:<id>``), if any."""
        prefix = str(self.operator_did("x"))[:-1]
        if not did.startswith(prefix):
            return None
        op_id = did[len(prefix) :]
        with UnitOfWork(self.engine, write=False) as uow:
            return op_id if OuranosStore(uow).operator(op_id) is not None else None

    # ================================================================ releases to Catena-X (bridge)

    def put_bridge_release(
        self, who: Principal, partner_bpnl: str, scopes: Sequence[str], *, released: bool = True
    ) -> list[BridgeRelease]:
        """The operator's consent (or its withdrawal) that the bridge offers ``scopes`` of its
        data to one Catena-X partner, named by BPNL. Nothing crosses the bridge without it."""
        try:
            bpnl = str(Bpnl(partner_bpnl))
        except InvalidIdentifier as exc:
            raise InvalidInput(exc.message, field="partnerBpnl", rule=exc.rule) from exc
        bad = sorted(set(scopes) - set(BRIDGE_SCOPES))
        if not scopes or bad:
            raise InvalidInput(
                f"scopes {bad or list(scopes)} are not releasable; choose from {list(BRIDGE_SCOPES)}",
                field="scopes",
                rule="bridge release scopes",
            )
        with UnitOfWork(self.engine) as uow:
            store = OuranosStore(uow)
            for scope in dict.fromkeys(scopes):
                store.set_bridge_release(who.operator_id, bpnl, scope, released)
            uow.commit()
        return self.bridge_releases(who)

    def bridge_releases(self, who: Principal) -> list[BridgeRelease]:
        with UnitOfWork(self.engine, write=False) as uow:
            rows = OuranosStore(uow).bridge_releases(who.operator_id)
        return [BridgeRelease(b, sc, at) for b, sc, at in rows]

    def bridge_released(self, operator_id: str, partner_bpnl: str | None, scope: str) -> bool:
        if not partner_bpnl:
            return False
        with UnitOfWork(self.engine, write=False) as uow:
            return OuranosStore(uow).bridge_released(operator_id, partner_bpnl, scope)

    def onboard_operator(
        self,
        *,
        open_operator_id: str,
        operator_name: str,
        operator_address: str,
        global_operator_id: str | None = None,
        operator_id: str | None = None,
    ) -> Operator:
        """Host a new operator: its record, its keys and its DID under the hub."""
        open_id = OuranosOperatorId(open_operator_id)
        op_id = _check_uuid(operator_id, "operatorId") if operator_id else str(uuid.uuid4())
        _check_text(operator_name, "operatorName", 1, 256)
        _check_text(operator_address, "operatorAddress", 1, 256)
        if global_operator_id is not None:
            _check_text(global_operator_id, "globalOperatorId", 0, 256)
        did = str(self.operator_did(op_id))
        op = Operator(op_id, str(open_id), operator_name, operator_address, global_operator_id, did)
        with UnitOfWork(self.engine) as uow:
            store = OuranosStore(uow)
            if store.operator(op_id) is not None or store.operator_by_open_id(str(open_id)) is not None:
                raise Conflict(
                    f"operator {op_id} / openOperatorId {open_id} already exists", rule="operators are unique"
                )
            if global_operator_id is not None and store.global_operator_id_taken(global_operator_id, besides=op_id):
                raise Conflict(
                    f"globalOperatorId: {global_operator_id} is already exists.", rule="unique globalOperatorId"
                )
            store.insert_operator(op)
            uow.commit()
        self.operator_identity(op_id)
        return op

    def operators(self) -> list[Operator]:
        with UnitOfWork(self.engine, write=False) as uow:
            return OuranosStore(uow).all_operators()

    def add_account(self, operator_id: str, account_id: str, password: str) -> None:
        """Create (or reset) a login of an operator; the password is stored as an scrypt hash."""
        if "@" not in account_id or len(account_id) > 320:
            raise InvalidInput(
                f"operatorAccountId {account_id!r} is not an e-mail address",
                field="operatorAccountId",
                rule="LoginInputModel.operatorAccountId format email",
            )
        check_password(password)
        with UnitOfWork(self.engine) as uow:
            store = OuranosStore(uow)
            _operator_or_404(store, operator_id)
            row = store.account(account_id)
            if row is not None and row["operator_id"] != operator_id:
                raise Conflict(f"account {account_id} belongs to another operator", rule="one operator per account")
            store.upsert_account(account_id, operator_id, hash_password(password))
            uow.commit()

    def issue_api_key(self, *, operator_id: str | None = None, label: str = "application") -> tuple[str, str]:
        """A new API key (returned once; stored as its SHA-256). ``operator_id=None`` makes an
        application key any hosted operator's tokens may use, as the platform's per-application keys."""
        secret = "ok_" + secrets.token_urlsafe(32)
        key_id = _uuid()
        with UnitOfWork(self.engine) as uow:
            store = OuranosStore(uow)
            if operator_id is not None:
                _operator_or_404(store, operator_id)
            store.insert_api_key(key_id, operator_id, _sha256(secret), label)
            uow.commit()
        return key_id, secret

    def revoke_api_key(self, key_id: str) -> None:
        with UnitOfWork(self.engine) as uow:
            if not OuranosStore(uow).revoke_api_key(key_id):
                raise NotFound(f"no API key {key_id}", rule="revoke an issued key")
            uow.commit()

    def add_plant(
        self,
        operator_id: str,
        *,
        open_plant_id: str,
        plant_name: str,
        plant_address: str,
        global_plant_id: str | None = None,
        plant_id: str | None = None,
    ) -> Plant:
        return self.put_plant(
            operator_id,
            Plant(plant_id or "", operator_id, open_plant_id, plant_name, plant_address, global_plant_id),
            create_with_id=plant_id,
        )

    # ================================================================ auth

    def _check_api_key(self, store: OuranosStore, api_key: str | None) -> str | None:
        if not api_key:
            raise ApiKeyRejected("You do not have the necessary privileges", rule="apiKey header is required")
        row = store.api_key(_sha256(api_key))
        if row is None:
            raise ApiKeyRejected("Invalid key", rule="apiKey must be a key issued by this hub")
        bound: str | None = row["operator_id"]
        return bound

    def _sign(self, claims: dict[str, Any]) -> str:
        key = self.identity.active("Ed25519")
        header = {"alg": _TOKEN_ALG, "typ": "JWT", "kid": self.identity.key_id(key)}
        return jwt.encode(header, claims, key.jwk, algorithms=[_TOKEN_ALG])

    def _tokens(self, account_id: str, operator_id: str, *, refresh: bool) -> tuple[str, str | None]:
        now = int(self.clock().timestamp())
        base = {"iss": self.identity.did, "sub": account_id, "operator_id": operator_id, "iat": now}
        access = self._sign({**base, "token_use": "access", "exp": now + ACCESS_TTL_S, "jti": _uuid()})
        ref = (
            self._sign({**base, "token_use": "refresh", "exp": now + REFRESH_TTL_S, "jti": _uuid()})
            if refresh
            else None
        )
        return access, ref

    def _verify(self, token: str, use: str) -> dict[str, Any]:
        key = self.identity.active("Ed25519")
        try:
            claims = dict(jwt.decode(token, key.jwk, algorithms=[_TOKEN_ALG]).claims)
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidToken("Invalid or expired token", rule="a token this hub issued") from exc
        if claims.get("token_use") != use or claims.get("iss") != self.identity.did:
            raise InvalidToken("Invalid or expired token", rule=f"an {use} token of this hub")
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp < int(self.clock().timestamp()):
            raise InvalidToken("Invalid or expired token", rule="the token has expired")
        return claims

    def login(self, account_id: str, password: str, *, api_key: str | None) -> tuple[str, str]:
        """``POST /auth/login``: tokens for an account; locks the account briefly after
        repeated failures (as the platform's authentication system does)."""
        with UnitOfWork(self.engine) as uow:
            store = OuranosStore(uow)
            bound = self._check_api_key(store, api_key)
            row = store.account(account_id)
            now = self.clock()
            if row is not None and row["locked_until"] is not None and row["locked_until"] > now:
                raise InvalidToken("Invalid credentials", rule="account temporarily locked after failed logins")
            if row is None or not verify_password(password, row["password_hash"]):
                if row is not None:
                    count = int(row["failed_logins"]) + 1
                    locked = now + dt.timedelta(seconds=LOCKOUT_S) if count >= LOCKOUT_AFTER else None
                    store.set_login_failures(account_id, 0 if locked else count, locked)
                    uow.commit()
                raise InvalidToken("Invalid credentials", rule="operatorAccountId and accountPassword must match")
            if bound is not None and bound != row["operator_id"]:
                raise ApiKeyRejected("Invalid key", rule="this apiKey belongs to another operator")
            store.set_login_failures(account_id, 0, None)
            uow.commit()
            access, refresh = self._tokens(account_id, row["operator_id"], refresh=True)
            assert refresh is not None
            return access, refresh

    def refresh(self, refresh_token: str, *, api_key: str | None) -> str:
        with UnitOfWork(self.engine, write=False) as uow:
            store = OuranosStore(uow)
            bound = self._check_api_key(store, api_key)
            # the published /auth/refresh documents no 401: a bad refresh token is a bad request
            bad = InvalidInput(
                "Invalid or expired refresh token", field="refreshToken", rule="a refresh token this hub issued"
            )
            try:
                claims = self._verify(refresh_token, "refresh")
            except InvalidToken as exc:
                raise bad from exc
            row = store.account(str(claims.get("sub")))
            if row is None or row["operator_id"] != claims.get("operator_id"):
                raise bad
            if int(claims["iat"]) < int(row["password_changed_at"].timestamp()):
                raise bad
            if bound is not None and bound != row["operator_id"]:
                raise ApiKeyRejected("Invalid key", rule="this apiKey belongs to another operator")
        access, _ = self._tokens(row["account_id"], row["operator_id"], refresh=False)
        return access

    def authenticate(self, *, api_key: str | None, bearer: str | None) -> Principal:
        """Both credentials, as the published tutorials send them: ``apiKey`` and the bearer token."""
        with UnitOfWork(self.engine, write=False) as uow:
            store = OuranosStore(uow)
            bound = self._check_api_key(store, api_key)
            if not bearer:
                raise InvalidToken("Authentication required", rule="Authorization: Bearer <accessToken>")
            claims = self._verify(bearer, "access")
            account = store.account(str(claims.get("sub")))
            if account is None or account["operator_id"] != claims.get("operator_id"):
                raise InvalidToken("Invalid or expired token", rule="the account no longer exists")
            if int(claims["iat"]) < int(account["password_changed_at"].timestamp()):
                raise InvalidToken("Invalid or expired token", rule="the password changed after this token")
            if bound is not None and bound != account["operator_id"]:
                raise ApiKeyRejected("Invalid key", rule="this apiKey belongs to another operator")
            return Principal(str(account["operator_id"]), str(account["account_id"]))

    def change_password(self, who: Principal, new_password: str) -> None:
        check_password(new_password)
        with UnitOfWork(self.engine) as uow:
            OuranosStore(uow).upsert_account(who.account_id, who.operator_id, hash_password(new_password))
            uow.commit()

    # ================================================================ operators and plants

    def get_operator(self, who: Principal) -> Operator:
        with UnitOfWork(self.engine, write=False) as uow:
            return _operator_or_404(OuranosStore(uow), who.operator_id)

    def find_operator(self, who: Principal, open_operator_id: str) -> Operator:
        """Look another operator up by its ``openOperatorId`` (no browsable directory)."""
        with UnitOfWork(self.engine, write=False) as uow:
            op = OuranosStore(uow).operator_by_open_id(open_operator_id)
        if op is None:
            raise NotFound(f"no operator with openOperatorId {open_operator_id}", rule="lookup by openOperatorId")
        return op

    def operators_by_ids(self, who: Principal, operator_ids: Sequence[str]) -> list[Operator]:
        with UnitOfWork(self.engine, write=False) as uow:
            return OuranosStore(uow).operators_by_ids(operator_ids)

    def put_operator(self, who: Principal, op: Operator) -> Operator:
        """``PUT authInfo?dataTarget=operator``: operatorId and openOperatorId are immutable,
        globalOperatorId unique across the platform."""
        if op.operator_id != who.operator_id:
            raise AccessDenied(
                "operatorId differs from the authenticated operator", rule="OperatorModel.operatorId is your own"
            )
        with UnitOfWork(self.engine) as uow:
            store = OuranosStore(uow)
            current = _operator_or_404(store, who.operator_id)
            if op.open_operator_id != current.open_operator_id:
                raise InvalidInput("openOperatorId: field is immutable.", field="openOperatorId", rule="immutable")
            if op.global_operator_id is not None and store.global_operator_id_taken(
                op.global_operator_id, besides=who.operator_id
            ):
                raise InvalidInput(
                    f"globalOperatorId: {op.global_operator_id} is already exists.",
                    field="operatorAttribute.globalOperatorId",
                    rule="unique across the platform",
                )
            updated = replace(op, did=current.did)
            store.update_operator(updated)
            uow.commit()
            return updated

    def plants(self, who: Principal) -> list[Plant]:
        with UnitOfWork(self.engine, write=False) as uow:
            return OuranosStore(uow).plants(who.operator_id)

    def put_plant(self, operator_id: str | Principal, plant: Plant, *, create_with_id: str | None = None) -> Plant:
        """``PUT authInfo?dataTarget=plant``: openPlantId ends in 6 digits and is unique per operator."""
        me = operator_id.operator_id if isinstance(operator_id, Principal) else operator_id
        if plant.operator_id != me:
            raise AccessDenied("operatorId differs from the authenticated operator", rule="PlantModel.operatorId")
        OuranosPlantId(plant.open_plant_id)
        _check_text(plant.plant_name, "plantName", 1, 256)
        _check_text(plant.plant_address, "plantAddress", 1, 256)
        with UnitOfWork(self.engine) as uow:
            store = OuranosStore(uow)
            _operator_or_404(store, me)
            existing = store.plants(me)
            new = not plant.plant_id or create_with_id is not None
            if new:
                plant = replace(plant, plant_id=create_with_id or _uuid())
                if create_with_id and store.plant(me, create_with_id) is not None:
                    raise Conflict(f"plant {create_with_id} exists", rule="unique plantId")
            elif store.plant(me, plant.plant_id) is None:
                raise NotYourData(f"plantId {plant.plant_id} is not one of your plants", rule="your plants only")
            for other in existing:
                if other.plant_id == plant.plant_id:
                    continue
                if other.open_plant_id == plant.open_plant_id:
                    raise InvalidInput(
                        f"openPlantId: {plant.open_plant_id} is already exists.",
                        field="openPlantId",
                        rule="unique per operator",
                    )
                if plant.global_plant_id is not None and other.global_plant_id == plant.global_plant_id:
                    raise InvalidInput(
                        f"globalPlantId: {plant.global_plant_id} is already exists.",
                        field="plantAttribute.globalPlantId",
                        rule="unique per operator",
                    )
            store.save_plant(plant, new=new)
            uow.commit()
            return plant

    # ================================================================ parts

    def _resolve_part(self, store: OuranosStore, me: str, d: PartDraft, *, as_child: bool) -> tuple[Part, bool]:
        """The stored part a draft names (existing or new), checked but not yet saved."""
        if d.operator_id != me:
            raise AccessDenied("operatorId differs from the authenticated operator", rule="PartsModel.operatorId")
        if store.plant(me, d.plant_id) is None:
            raise NotYourData(f"plantId {d.plant_id} is not one of your plants", rule="PartsModel.plantId: your plants")
        key = _name_key(d.plant_id, d.parts_name, d.support_parts_name)
        current = store.part(me, d.trace_id) if d.trace_id else store.part_by_name_key(me, key)
        if d.trace_id and current is None:
            raise NotYourData(f"traceId {d.trace_id} is not one of your parts", rule="your parts only")
        if current is not None and (
            current.plant_id != d.plant_id
            or current.parts_name != d.parts_name
            or (current.support_parts_name or "") != (d.support_parts_name or "")
        ):
            raise InvalidInput(
                "plantId, partsName and supportPartsName of a part cannot change (they mint its traceId)",
                field="traceId",
                rule="OuranosPUT parts: traceId, plantId immutable",
            )
        part = Part(
            trace_id=current.trace_id if current else _uuid(),
            operator_id=me,
            plant_id=d.plant_id,
            parts_name=d.parts_name,
            support_parts_name=d.support_parts_name,
            terminated_flag=d.terminated_flag,
            amount_required_unit=d.amount_required_unit,
            parent_flag=current.parent_flag if current else not as_child,
            parts_label_name=d.parts_label_name,
            parts_add_info1=d.parts_add_info1,
            parts_add_info2=d.parts_add_info2,
            parts_add_info3=d.parts_add_info3,
        )
        return part, current is None

    def put_part(self, who: Principal, draft: PartDraft) -> Part:
        """``PUT parts``: create a (parent) part, or update one; the trace id stays."""
        with UnitOfWork(self.engine) as uow:
            store = OuranosStore(uow)
            part, new = self._resolve_part(store, who.operator_id, draft, as_child=False)
            store.save_part(part, _name_key(part.plant_id, part.parts_name, part.support_parts_name), new=new)
            uow.commit()
            return part

    def list_parts(
        self,
        who: Principal,
        *,
        trace_id: str | None = None,
        parts_name: str | None = None,
        plant_id: str | None = None,
        parent_flag: bool | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> Page[Part]:
        with UnitOfWork(self.engine, write=False) as uow:
            store = OuranosStore(uow)
            cursor = None
            if after is not None:
                anchor = store.part(who.operator_id, after)
                if anchor is None:
                    raise InvalidInput(
                        f"after {after} is not a cursor this list gave", field="after", rule="Link rel=next"
                    )
                cursor = (anchor.parts_name, anchor.trace_id)
            rows = store.list_parts(
                who.operator_id,
                trace_id=trace_id,
                parts_name=parts_name,
                plant_id=plant_id,
                parent_flag=parent_flag,
                after=cursor,
                limit=limit + 1,
            )
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(tuple(rows), rows[-1].trace_id if more and rows else None)

    def delete_part(self, who: Principal, trace_id: str) -> None:
        """``DELETE parts``: refused while the part is in a structure or a live trade; takes its
        CFP, certificates and releases with it."""
        me = who.operator_id
        with UnitOfWork(self.engine) as uow:
            store = OuranosStore(uow)
            if store.part(me, trace_id) is None:
                raise NotYourData(f"traceId {trace_id} is not one of your parts", rule="your parts only")
            if store.in_structure(me, trace_id):
                raise Conflict(
                    "指定された部品は部品構成が存在するため削除できません。 (the part is in a parts structure)",
                    rule="DELETE parts: remove the parts structure first",
                )
            live = store.trades_where(
                trades.c.status.in_([str(s) for s in ACTIVE_STATES]),
                or_(
                    and_(trades.c.downstream_operator_id == me, trades.c.downstream_trace_id == trace_id),
                    and_(trades.c.upstream_operator_id == me, trades.c.upstream_trace_id == trace_id),
                ),
            )
            if live:
                raise Conflict(
                    "指定された部品は依頼済みのため削除できません。 (the part is in a trade request)",
                    rule="DELETE parts: cancel or reject the request first",
                )
            store.delete_part(me, trace_id)
            uow.commit()

    def put_parts_structure(self, who: Principal, parent: PartDraft, children: Sequence[PartDraft]) -> PartsStructure:
        """``PUT partsStructure``: a parent and its children (two levels; your own plants)."""
        me = who.operator_id
        with UnitOfWork(self.engine) as uow:
            store = OuranosStore(uow)
            p, p_new = self._resolve_part(store, me, parent, as_child=False)
            if not p_new and (not p.parent_flag or store.parents_of(me, p.trace_id)):
                raise InvalidInput(
                    f"part {p.trace_id} is a child part: structures are two levels deep",
                    field="parentPartsModel.traceId",
                    rule="Ouranos parts structure: two levels",
                )
            resolved: list[tuple[Part, bool, Decimal]] = []
            seen: set[str] = set()
            for i, d in enumerate(children):
                if d.amount_required is None:
                    raise InvalidInput(
                        f"childrenPartsModel[{i}].amountRequired is required for a child part",
                        field=f"childrenPartsModel[{i}].amountRequired",
                        rule="amountRequired: the child's quantity per unit of the parent",
                    )
                amount = ouranos_round(d.amount_required, field=f"childrenPartsModel[{i}].amountRequired")
                c, c_new = self._resolve_part(store, me, d, as_child=True)
                if c.trace_id == p.trace_id or c.trace_id in seen:
                    raise InvalidInput(
                        f"childrenPartsModel[{i}] repeats a part of this structure",
                        field=f"childrenPartsModel[{i}]",
                        rule="each child once, not the parent",
                    )
                if c.parent_flag:
                    raise InvalidInput(
                        f"childrenPartsModel[{i}] is a parent part: structures are two levels deep",
                        field=f"childrenPartsModel[{i}].traceId",
                        rule="Ouranos parts structure: two levels",
                    )
                seen.add(c.trace_id)
                resolved.append((c, c_new, amount))
            store.save_part(p, _name_key(p.plant_id, p.parts_name, p.support_parts_name), new=p_new)
            for c, c_new, _ in resolved:
                store.save_part(c, _name_key(c.plant_id, c.parts_name, c.support_parts_name), new=c_new)
            store.replace_children(me, p.trace_id, [(c.trace_id, a) for c, _, a in resolved])
            uow.commit()
            return PartsStructure(p, tuple(replace(c, amount_required=a) for c, _, a in resolved))

    def get_parts_structure(self, who: Principal, trace_id: str) -> PartsStructure:
        with UnitOfWork(self.engine, write=False) as uow:
            store = OuranosStore(uow)
            part = store.part(who.operator_id, trace_id)
            if part is None:
                raise NotYourData(f"traceId {trace_id} is not one of your parts", rule="your parts only")
            kids = store.children(who.operator_id, trace_id)
            return PartsStructure(part, tuple(replace(c, amount_required=a) for c, a in kids))

    # ================================================================ trades

    def _notify(self, store: OuranosStore, to: str, kind: NotificationType, trade: Trade) -> None:
        store.insert_notification(
            Notification(
                _uuid(),
                to,
                kind,
                trade.trade_id,
                trade.downstream_operator_id,
                trade.upstream_operator_id,
                trade.downstream_trace_id,
                trade.upstream_trace_id,
                self.clock(),
            )
        )

    def put_trade_request(self, who: Principal, d: TradeRequestDraft) -> Trade:
        """``PUT tradeRequest``: the buyer asks a supplier about one of its child parts."""
        me = who.operator_id
        if d.downstream_operator_id != me:
            raise AccessDenied(
                "downstreamOperatorId differs from the authenticated operator", rule="TradeModel.downstreamOperatorId"
            )
        if d.response_due_date is None:
            raise InvalidInput(
                "Validation failed, responseDueDate: cannot be blank.",
                field="statusModel.responseDueDate",
                rule="responseDueDate is required on a new request",
            )
        now = self.clock()
        with UnitOfWork(self.engine) as uow:
            store = OuranosStore(uow)
            if d.trade_id is not None:
                t = store.trade(d.trade_id)
                if t is None or t.downstream_operator_id != me:
                    raise NotYourData(f"tradeId {d.trade_id} is not one of your requests", rule="your trades only")
                if t.status in FINAL_STATES:
                    raise RequestClosed(f"request {t.status_id} is {t.status}", rule="CANCEL and REJECT are final")
                t = replace(t, message=d.message, response_due_date=d.response_due_date, updated_at=now)
                store.update_trade(t)
                uow.commit()
                return t
            if store.operator(d.upstream_operator_id) is None:
                raise NotFound(
                    f"upstreamOperatorId {d.upstream_operator_id} is unknown", rule="TradeModel.upstreamOperatorId"
                )
            if d.upstream_operator_id == me:
                raise InvalidInput(
                    "a request goes to another operator",
                    field="tradeModel.upstreamOperatorId",
                    rule="upstream differs from downstream",
                )
            part = store.part(me, d.downstream_trace_id)
            if part is None:
                raise NotYourData(
                    f"downstreamTraceId {d.downstream_trace_id} is not one of your parts", rule="your parts only"
                )
            if part.parent_flag:
                raise InvalidInput(
                    "downstreamTraceId must be a child part (a procured part of a parts structure)",
                    field="tradeModel.downstreamTraceId",
                    rule="requests are made for child parts",
                )
            live = store.trades_where(
                trades.c.downstream_operator_id == me,
                trades.c.downstream_trace_id == d.downstream_trace_id,
                trades.c.status.in_([str(s) for s in ACTIVE_STATES]),
            )
            if live:
                raise Conflict(
                    f"part {d.downstream_trace_id} already has the open request {live[0].status_id}",
                    rule="one live request per child part",
                )
            t = Trade(
                trade_id=_uuid(),
                status_id=_uuid(),
                downstream_operator_id=me,
                upstream_operator_id=d.upstream_operator_id,
                downstream_trace_id=d.downstream_trace_id,
                upstream_trace_id=None,
                request_type=d.request_type,
                message=d.message,
                reply_message=None,
                response_due_date=d.response_due_date,
                status=CfpResponseStatus.NOT_COMPLETED,
                created_at=now,
                updated_at=now,
            )
            store.insert_trade(t)
            self._notify(store, t.upstream_operator_id, NotificationType.REQUEST_NEW, t)
            uow.commit()
            return t

    def list_trade_requests(
        self, who: Principal, *, trace_ids: Sequence[str] | None = None, after: str | None = None, limit: int = 100
    ) -> Page[Trade]:
        conds: list[Any] = [trades.c.downstream_operator_id == who.operator_id]
        if trace_ids:
            conds.append(trades.c.downstream_trace_id.in_(list(trace_ids)))
        with UnitOfWork(self.engine, write=False) as uow:
            if trace_ids:  # OpenAPI: with traceIds, limit does not apply
                return Page(tuple(OuranosStore(uow).trades_where(*conds)), None)
            rows = OuranosStore(uow).trades_where(*conds, after=after, limit=limit + 1)
        return _page(rows, limit, lambda t: t.trade_id)

    def list_trade_responses(
        self, who: Principal, *, after: str | None = None, limit: int = 100
    ) -> Page[tuple[Trade, Part]]:
        """``GET tradeResponse``: requests received, with the buyer's part — its amount nulled."""
        with UnitOfWork(self.engine, write=False) as uow:
            store = OuranosStore(uow)
            rows = store.trades_where(trades.c.upstream_operator_id == who.operator_id, after=after, limit=limit + 1)
            more = len(rows) > limit
            rows = rows[:limit]
            out = []
            for t in rows:
                part = store.part(t.downstream_operator_id, t.downstream_trace_id)
                if part is None:  # deleted after the request ended
                    continue
                out.append((t, replace(part, amount_required=None)))
        return Page(tuple(out), rows[-1].trade_id if more and rows else None)

    def put_trade_response(self, who: Principal, trade_id: str, trace_id: str) -> Trade:
        """``PUT tradeResponse``: the supplier accepts by linking its own part."""
        me = who.operator_id
        with UnitOfWork(self.engine) as uow:
            store = OuranosStore(uow)
            t = store.trade(trade_id)
            if t is None or t.upstream_operator_id != me:
                raise NotYourData(f"tradeId {trade_id} is not a request you received", rule="your trades only")
            if t.status in FINAL_STATES:
                raise RequestClosed(
                    f"request {t.status_id} is {t.status}: it can no longer be answered",
                    rule="CANCEL and REJECT are final",
                )
            if store.part(me, trace_id) is None:
                raise NotYourData(
                    f"traceId {trace_id} is not one of your parts", rule="the supplier links its own part"
                )
            t = replace(t, upstream_trace_id=trace_id, updated_at=self.clock())
            if store.cfp(me, trace_id) is not None:
                status = transition(TradeRole.UPSTREAM, t.status, CfpResponseStatus.COMPLETED)
                if t.status != status:
                    t = replace(t, status=status)
                    self._notify(store, t.downstream_operator_id, NotificationType.CFP_RESPONSED, t)
            store.update_trade(t)
            uow.commit()
            return t

    def _progress(self, store: OuranosStore, t: Trade, depth: int = 0) -> RequestProgress:
        trades_count, completed, tree = self._tree(store, t, depth, set())
        return RequestProgress(t.status, tree, completed, t.updated_at, trades_count, t.updated_at)

    def _tree(self, store: OuranosStore, t: Trade, depth: int, seen: set[str]) -> tuple[int, int, TradeTreeStatus]:
        """(trades, completed, tree status) over the upstream tree: counts only, no identities."""
        count, done = 1, (1 if t.status == CfpResponseStatus.COMPLETED else 0)
        if t.status in FINAL_STATES:
            return count, done, TradeTreeStatus.TERMINATED
        if t.upstream_trace_id is None or depth > _MAX_DEPTH or t.trade_id in seen:
            return count, done, TradeTreeStatus.UNTERMINATED
        seen.add(t.trade_id)
        part = store.part(t.upstream_operator_id, t.upstream_trace_id)
        if part is None:
            return count, done, TradeTreeStatus.UNTERMINATED
        if part.terminated_flag:
            return count, done, TradeTreeStatus.TERMINATED
        kids = store.children(part.operator_id, part.trace_id)
        ended = bool(kids)
        for child, _ in kids:
            if child.terminated_flag:
                continue
            live = store.trades_where(
                trades.c.downstream_operator_id == part.operator_id,
                trades.c.downstream_trace_id == child.trace_id,
                trades.c.status.in_([str(s) for s in ACTIVE_STATES]),
            )
            if not live:
                ended = False
                continue
            c, d, s = self._tree(store, live[0], depth + 1, seen)
            count, done = count + c, done + d
            ended = ended and s == TradeTreeStatus.TERMINATED
        return count, done, TradeTreeStatus.TERMINATED if ended else TradeTreeStatus.UNTERMINATED

    def list_status(
        self,
        who: Principal,
        *,
        status_target: StatusTarget | None = None,
        status_id: str | None = None,
        trace_id: str | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> Page[tuple[Trade, RequestProgress]]:
        me = who.operator_id
        req = trades.c.downstream_operator_id == me
        res = trades.c.upstream_operator_id == me
        if trace_id is not None:
            req = and_(req, trades.c.downstream_trace_id == trace_id)
            res = and_(res, trades.c.upstream_trace_id == trace_id)
        side: Any = (
            req
            if status_target == StatusTarget.REQUEST
            else res
            if status_target == StatusTarget.RESPONSE
            else or_(req, res)
        )
        conds: list[Any] = [side]
        if status_id is not None:
            conds.append(trades.c.status_id == status_id)
        with UnitOfWork(self.engine, write=False) as uow:
            store = OuranosStore(uow)
            rows = store.trades_where(*conds, after=after, limit=limit + 1)
            more = len(rows) > limit
            rows = rows[:limit]
            out = tuple((t, self._progress(store, t)) for t in rows)
        return Page(out, rows[-1].trade_id if more and rows else None)

    def put_status(
        self, who: Principal, status_id: str, target: CfpResponseStatus, *, reply_message: str | None = None
    ) -> Trade:
        """``PUT status``: the buyer cancels, the supplier rejects (with a reply message)."""
        if target not in FINAL_STATES:
            raise InvalidInput(
                f"cfpResponseStatus {target} cannot be set here: only CANCEL or REJECT",
                field="requestStatus.cfpResponseStatus",
                rule="PUT status takes CANCEL or REJECT",
            )
        with UnitOfWork(self.engine) as uow:
            store = OuranosStore(uow)
            t = store.trade_by_status(status_id)
            role = None if t is None else t.role_of(who.operator_id)
            if t is None or role is None:
                raise NotYourData(f"statusId {status_id} is not one of your requests", rule="your trades only")
            if t.status in FINAL_STATES:
                raise RequestClosed(f"request {status_id} is already {t.status}", rule="CANCEL and REJECT are final")
            new = transition(role, t.status, target)
            t = replace(
                t,
                status=new,
                updated_at=self.clock(),
                reply_message=reply_message if new == CfpResponseStatus.REJECT else t.reply_message,
            )
            store.update_trade(t)
            if new == CfpResponseStatus.CANCEL:
                self._notify(store, t.upstream_operator_id, NotificationType.REQUEST_CANCELED, t)
            else:
                self._notify(store, t.downstream_operator_id, NotificationType.REQUEST_REJECTED, t)
            uow.commit()
            return t

    def put_reply_message(self, who: Principal, status_id: str, reply_message: str) -> Trade:
        """Extension ``replyMessage``: the supplier writes to the buyer on a live request."""
        with UnitOfWork(self.engine) as uow:
            store = OuranosStore(uow)
            t = store.trade_by_status(status_id)
            if t is None or t.upstream_operator_id != who.operator_id:
                raise NotYourData(f"statusId {status_id} is not a request you received", rule="your trades only")
            if t.status in FINAL_STATES:
                raise RequestClosed(f"request {status_id} is {t.status}", rule="CANCEL and REJECT are final")
            t = replace(t, reply_message=reply_message, updated_at=self.clock())
            store.update_trade(t)
            self._notify(store, t.downstream_operator_id, NotificationType.REPLY_MESSAGE_REGISTERED, t)
            uow.commit()
            return t

    # ================================================================ CFP

    def put_cfp(self, who: Principal, entries: Sequence[CfpEntry]) -> list[CfpEntry]:
        """``PUT cfp``: the four own/parts values of one part, together, rounded up at the 6th decimal."""
        me = who.operator_id
        rule4 = "Ouranos PUT cfp: preProduction, mainProduction, preComponent and mainComponent together"
        by_type: dict[CfpType, CfpEntry] = {}
        for i, e in enumerate(entries):
            if e.cfp_type not in WRITABLE_CFP_TYPES:
                raise InvalidInput(f"cfpType {e.cfp_type} cannot be written", field=f"[{i}].cfpType", rule=rule4)
            if e.cfp_type in by_type:
                raise InvalidInput(f"cfpType {e.cfp_type} is sent twice", field=f"[{i}].cfpType", rule=rule4)
            want = (
                DqrType.PRE_PROCESSING
                if e.cfp_type in (CfpType.PRE_PRODUCTION, CfpType.PRE_COMPONENT)
                else DqrType.MAIN_PROCESSING
            )
            if e.dqr_type != want:
                raise InvalidInput(
                    f"cfpType {e.cfp_type} takes dqrType {want}", field=f"[{i}].dqrType", rule="dqrType per stage"
                )
            if e.ghg_emission is None:
                raise InvalidInput(
                    f"ghgEmission of {e.cfp_type} is required (use 0 for none)", field=f"[{i}].ghgEmission", rule=rule4
                )
            by_type[e.cfp_type] = e
        missing = [str(t) for t in WRITABLE_CFP_TYPES if t not in by_type]
        if missing:
            raise InvalidInput(
                f"cfpType {', '.join(missing)} missing: a CFP write carries all four", field="cfpType", rule=rule4
            )
        first = entries[0]
        for i, e in enumerate(entries):
            if (e.trace_id, e.ghg_declared_unit, e.cfp_id) != (first.trace_id, first.ghg_declared_unit, first.cfp_id):
                raise InvalidInput(
                    "all four entries carry the same traceId, ghgDeclaredUnit and cfpId",
                    field=f"[{i}]",
                    rule=rule4,
                )
        pre, main = by_type[CfpType.PRE_PRODUCTION], by_type[CfpType.MAIN_PRODUCTION]
        rec_values = {
            t: ouranos_round(by_type[t].ghg_emission or 0, field=f"{t}.ghgEmission") for t in WRITABLE_CFP_TYPES
        }
        dqr_pre, dqr_main = _round_dqr(pre.dqr, "preProcessing"), _round_dqr(main.dqr, "mainProcessing")
        with UnitOfWork(self.engine) as uow:
            store = OuranosStore(uow)
            if store.part(me, first.trace_id) is None:
                raise NotYourData(
                    f"traceId {first.trace_id} is not one of your parts", rule="a CFP is written for your own part"
                )
            current = store.cfp(me, first.trace_id)
            if first.cfp_id is not None and (current is None or current.cfp_id != first.cfp_id):
                raise NotYourData(
                    f"cfpId {first.cfp_id} is not this part's CFP", rule="cfpId null creates, else the part's cfpId"
                )
            rec = CfpRecord(
                cfp_id=current.cfp_id if current else _uuid(),
                trace_id=first.trace_id,
                operator_id=me,
                unit=first.ghg_declared_unit,
                pre_production=rec_values[CfpType.PRE_PRODUCTION],
                main_production=rec_values[CfpType.MAIN_PRODUCTION],
                pre_component=rec_values[CfpType.PRE_COMPONENT],
                main_component=rec_values[CfpType.MAIN_COMPONENT],
                dqr_pre=dqr_pre,
                dqr_main=dqr_main,
                updated_at=self.clock(),
            )
            store.save_cfp(rec)
            for t in store.trades_where(
                trades.c.upstream_operator_id == me,
                trades.c.upstream_trace_id == first.trace_id,
                trades.c.status.in_([str(s) for s in ACTIVE_STATES]),
            ):
                was = t.status
                t2 = replace(
                    t, status=transition(TradeRole.UPSTREAM, was, CfpResponseStatus.COMPLETED), updated_at=self.clock()
                )
                store.update_trade(t2)
                kind = (
                    NotificationType.CFP_RESPONSED
                    if was == CfpResponseStatus.NOT_COMPLETED
                    else NotificationType.CFP_UPDATED
                )
                self._notify(store, t2.downstream_operator_id, kind, t2)
            uow.commit()
        return _own_entries(rec)

    def _own_cfp(self, rec: CfpRecord) -> OuranosCfp:
        return OuranosCfp(
            pre_production=rec.pre_production,
            main_production=rec.main_production,
            pre_component=rec.pre_component,
            main_component=rec.main_component,
            unit=rec.unit,
            dqr_pre=_odqr(rec.dqr_pre),
            dqr_main=_odqr(rec.dqr_main),
        )

    def _total(self, store: OuranosStore, owner: str, part: Part, seen: frozenset[str]) -> OuranosCfp | None:
        """The part's totals as its owner sees them: own + own-declared parts + Σ(child seen × amount)."""
        rec = store.cfp(owner, part.trace_id)
        if rec is None:
            return None
        own = self._own_cfp(rec)
        if not part.parent_flag or part.trace_id in seen or len(seen) > _MAX_DEPTH:
            return own
        children: list[tuple[OuranosCfp, Decimal]] = []
        if own.pre_component or own.main_component:
            children.append(
                (
                    OuranosCfp(
                        Decimal(0),
                        Decimal(0),
                        own.pre_component,
                        own.main_component,
                        own.unit,
                        own.dqr_pre,
                        own.dqr_main,
                    ),
                    Decimal(1),
                )
            )
        for child, amount in store.children(owner, part.trace_id):
            if amount is None:
                continue
            seen_child = self._child_view(store, owner, child, seen | {part.trace_id})
            if seen_child is not None:
                children.append((seen_child[0], amount))
        try:
            return ouranos_parent_cfp(
                pre_own=own.pre_production,
                main_own=own.main_production,
                children=children,
                dqr_pre_own=own.dqr_pre,
                dqr_main_own=own.dqr_main,
                unit=own.unit,
            )
        except InvalidInput:
            return None  # a total beyond the API's range is not shown rather than clipped

    def _response(
        self, store: OuranosStore, reader: str, child: Part, seen: frozenset[str]
    ) -> tuple[OuranosCfp, str] | None:
        """What the supplier of ``child`` released to ``reader``: stage totals (and ratings)."""
        live = store.trades_where(
            trades.c.downstream_operator_id == reader,
            trades.c.downstream_trace_id == child.trace_id,
            trades.c.status.in_([str(s) for s in ACTIVE_STATES]),
        )
        t = next((x for x in live if x.accepted), None)
        if t is None or t.upstream_trace_id is None:
            return None
        release = store.cfp_release(t.upstream_operator_id, t.upstream_trace_id, reader)
        if not release[AclItemGroup.TOTALCFP]:
            return None
        up = store.part(t.upstream_operator_id, t.upstream_trace_id)
        if up is None:
            return None
        total = self._total(store, t.upstream_operator_id, up, seen)
        if total is None:
            return None
        dqr_ok = release[AclItemGroup.TOTALDQR]
        try:
            return (
                OuranosCfp(
                    total.pre_total,
                    total.main_total,
                    Decimal(0),
                    Decimal(0),
                    total.unit,
                    total.dqr_pre if dqr_ok else None,
                    total.dqr_main if dqr_ok else None,
                ),
                t.upstream_operator_id,
            )
        except InvalidInput:
            return None

    def _child_view(
        self, store: OuranosStore, owner: str, child: Part, seen: frozenset[str]
    ) -> tuple[OuranosCfp, str] | None:
        resp = self._response(store, owner, child, seen)
        if resp is not None:
            return resp
        rec = store.cfp(owner, child.trace_id)
        return None if rec is None else (self._own_cfp(rec), owner)

    def get_cfp(self, who: Principal, trace_ids: Sequence[str]) -> list[CfpEntry]:
        """``GET cfp``: own values, ``*Total`` for parent parts, ``*Response`` as released."""
        me = who.operator_id
        out: list[CfpEntry] = []
        with UnitOfWork(self.engine, write=False) as uow:
            store = OuranosStore(uow)
            for tid in dict.fromkeys(trace_ids):
                part = store.part(me, tid)
                if part is None:
                    continue
                rec = store.cfp(me, tid)
                cfp_id = rec.cfp_id if rec else None
                if rec is not None:
                    out.extend(_own_entries(rec))
                    if part.parent_flag:
                        total = self._total(store, me, part, frozenset())
                        if total is not None:
                            out.extend(_stage_entries(cfp_id, tid, total, "Total"))
                if not part.parent_flag:
                    resp = self._response(store, me, part, frozenset())
                    if resp is not None:
                        r = resp[0]
                        out.append(
                            CfpEntry(
                                cfp_id,
                                tid,
                                r.pre_production,
                                r.unit,
                                CfpType.PRE_PRODUCTION_RESPONSE,
                                DqrType.PRE_PROCESSING_RESPONSE,
                                _dqr(r.dqr_pre),
                            )
                        )
                        out.append(
                            CfpEntry(
                                cfp_id,
                                tid,
                                r.main_production,
                                r.unit,
                                CfpType.MAIN_PRODUCTION_RESPONSE,
                                DqrType.MAIN_PROCESSING_RESPONSE,
                                _dqr(r.dqr_main),
                            )
                        )
        return out

    # ================================================================ releases (extension)

    def put_cfp_release(self, who: Principal, trace_id: str, to: str, groups: dict[AclItemGroup, bool]) -> CfpRelease:
        """Extension ``cfpAcl``: release (or withdraw) TOTALCFP / TOTALDQR of a part to one operator."""
        me = who.operator_id
        with UnitOfWork(self.engine) as uow:
            store = OuranosStore(uow)
            if store.part(me, trace_id) is None:
                raise NotYourData(f"traceId {trace_id} is not one of your parts", rule="you release your own parts")
            if store.operator(to) is None:
                raise NotFound(f"releasedToOperatorId {to} is unknown", rule="release to a hosted operator")
            for g, flag in groups.items():
                store.set_cfp_release(me, trace_id, to, g, flag)
            uow.commit()
            return CfpRelease(me, trace_id, to, store.cfp_release(me, trace_id, to))

    def get_cfp_releases(self, who: Principal, trace_id: str) -> list[CfpRelease]:
        me = who.operator_id
        with UnitOfWork(self.engine, write=False) as uow:
            store = OuranosStore(uow)
            if store.part(me, trace_id) is None:
                raise NotYourData(f"traceId {trace_id} is not one of your parts", rule="your parts only")
            return [
                CfpRelease(me, trace_id, to, store.cfp_release(me, trace_id, to))
                for to in store.cfp_release_recipients(me, trace_id)
            ]

    def put_certification_release(self, who: Principal, trace_id: str, to: str, flag: bool) -> CertificationRelease:
        me = who.operator_id
        with UnitOfWork(self.engine) as uow:
            store = OuranosStore(uow)
            if store.part(me, trace_id) is None:
                raise NotYourData(f"traceId {trace_id} is not one of your parts", rule="you release your own parts")
            if store.operator(to) is None:
                raise NotFound(f"releasedToOperatorId {to} is unknown", rule="release to a hosted operator")
            store.set_certification_release(me, trace_id, to, flag)
            uow.commit()
        return CertificationRelease(me, trace_id, to, flag)

    def get_certification_releases(self, who: Principal, trace_id: str) -> list[CertificationRelease]:
        me = who.operator_id
        with UnitOfWork(self.engine, write=False) as uow:
            store = OuranosStore(uow)
            if store.part(me, trace_id) is None:
                raise NotYourData(f"traceId {trace_id} is not one of your parts", rule="your parts only")
            return [
                CertificationRelease(me, trace_id, to, f)
                for to, f in store.certification_release_recipients(me, trace_id)
            ]

    # ================================================================ PACT export (extension)

    def export_pact(
        self,
        operator_id: str,
        trace_id: str,
        *,
        caller: Principal | None,
        period_start: dt.datetime | None = None,
        period_end: dt.datetime | None = None,
        primary_data_share: Decimal | None = None,
        bridge_partner: str | None = None,
    ) -> dict[str, Any]:
        """A part's CFP as a PACT v3 ProductFootprint (``_pact_export``), for a Catena-X partner.

        ``caller`` is the operator's own account, or ``None`` for the hub administrator. Only a
        CFP whose owner released TOTALCFP (to any recipient) is exported; ratings only when
        TOTALDQR is released too. The values are the part's stage totals as its owner sees them
        (own + parts, as ``GET cfp`` answers ``*Total``). For the bridge (``bridge_partner``: the
        Catena-X partner's BPNL) the operator's bridge release of ``cfp`` to that partner is the
        consent instead, and it covers the ratings.
        """
        if caller is not None and caller.operator_id != operator_id:
            raise AccessDenied(
                f"operator {caller.operator_id} cannot export operator {operator_id}'s CFP",
                rule="an operator exports only its own CFPs",
            )
        with UnitOfWork(self.engine, write=False) as uow:
            store = OuranosStore(uow)
            op = _operator_or_404(store, operator_id)
            part = store.part(operator_id, trace_id)
            rec = store.cfp(operator_id, trace_id) if part is not None else None
            if part is None or rec is None:
                raise NotYourData(
                    f"operator {operator_id} has no CFP for traceId {trace_id}",
                    rule="a CFP is exported for the operator's own part",
                )
            recipients = store.cfp_release_recipients(operator_id, trace_id)
            groups = [store.cfp_release(operator_id, trace_id, to) for to in recipients]
            if bridge_partner is not None:
                if not store.bridge_released(operator_id, bridge_partner, "cfp"):
                    raise AccessDenied(
                        f"operator {operator_id} has not released its CFP to {bridge_partner}",
                        rule="Japan → Europe: only what the hub operator released crosses the bridge",
                    )
                groups = [{AclItemGroup.TOTALCFP: True, AclItemGroup.TOTALDQR: True}]
            if not any(g[AclItemGroup.TOTALCFP] for g in groups):
                raise NotYourData(
                    f"the CFP of traceId {trace_id} is not released",
                    rule="only a CFP its owner released (cfpAcl TOTALCFP) is exported",
                )
            total = self._total(store, operator_id, part, frozenset()) if part.parent_flag else self._own_cfp(rec)
            if total is None:
                raise InvalidInput(
                    f"the CFP total of traceId {trace_id} is beyond the API's range",
                    field="traceId",
                    rule="Ouranos CFP values 0-99999.99999",
                )
            item = CfpExport(
                trace_id=trace_id,
                cfp_id=rec.cfp_id,
                written_at=rec.updated_at,
                part_name=part.parts_name,
                operator_id=operator_id,
                open_operator_id=op.open_operator_id,
                operator_name=op.operator_name,
                cfp=total,
                dqr_released=any(g[AclItemGroup.TOTALDQR] for g in groups),
            )
        return pact_v3_of_cfp(
            item,
            period_start=period_start,
            period_end=period_end,
            primary_data_share=primary_data_share,
            dqr_mapping=self.pact_dqr_mapping,
        )

    # ================================================================ certificates

    def upload_certificate_file(self, who: Principal, file_name: str, content: bytes) -> CertificationFile:
        """Extension ``cfpCertificationFile`` (PUT): store one certificate file of the caller."""
        certificate_extension(file_name)
        _check_text(file_name, "fileName", 1, 256)
        if not content:
            raise InvalidInput("the certificate file is empty", field="body", rule="a file has content")
        from batpass.ouranos.model import CERTIFICATE_MAX_BYTES

        if len(content) > CERTIFICATE_MAX_BYTES:
            raise InvalidInput("the certificate file exceeds 25 MB", field="body", rule="API body limit 25 MB")
        f = CertificationFile(who.operator_id, _uuid(), file_name)
        with UnitOfWork(self.engine) as uow:
            OuranosStore(uow).insert_file(f.operator_id, f.file_id, f.file_name, content)
            uow.commit()
        return f

    def put_certification(self, who: Principal, cert: Certification) -> Certification:
        """Extension ``cfpCertificationInfo`` (PUT): describe a part's certificate and its files."""
        me = who.operator_id
        _check_text(cert.description or "", "cfpCertificationDescription", 0, 100)
        with UnitOfWork(self.engine) as uow:
            store = OuranosStore(uow)
            if store.part(me, cert.trace_id) is None:
                raise NotYourData(f"traceId {cert.trace_id} is not one of your parts", rule="certify your own parts")
            new = not cert.cfp_certification_id
            if new:
                cert = replace(cert, cfp_certification_id=_uuid())
            else:
                row = store.certification(cert.cfp_certification_id)
                if row is None or row["operator_id"] != me or row["trace_id"] != cert.trace_id:
                    raise NotYourData(
                        f"cfpCertificationId {cert.cfp_certification_id} is not yours", rule="your certificates only"
                    )
            files = []
            for i, f in enumerate(cert.files):
                row = store.file(me, f.file_id)
                if row is None:
                    raise NotYourData(
                        f"fileId {f.file_id} is not one of your uploaded files",
                        rule="upload first",
                        field=f"cfpCertificationFileInfo[{i}]",
                    )
                files.append(CertificationFile(me, f.file_id, row["file_name"]))
            cert = replace(cert, files=tuple(files))
            store.save_certification(me, cert, new=new)
            uow.commit()
            return cert

    def get_certifications(self, who: Principal, trace_id: str) -> list[Certification]:
        """``GET cfpCertification``: own certificates of the part, and — for a child part in an
        accepted trade — the supplier's certificates it released to the caller."""
        me = who.operator_id
        with UnitOfWork(self.engine, write=False) as uow:
            store = OuranosStore(uow)
            part = store.part(me, trace_id)
            if part is None:
                return []
            out = store.certifications(me, trace_id)
            up = self._released_certificate_source(store, me, trace_id)
            if up is not None:
                out.extend(replace(c, trace_id=trace_id) for c in store.certifications(*up))
            return out

    def _released_certificate_source(self, store: OuranosStore, me: str, trace_id: str) -> tuple[str, str] | None:
        live = store.trades_where(
            trades.c.downstream_operator_id == me,
            trades.c.downstream_trace_id == trace_id,
            trades.c.status.in_([str(s) for s in ACTIVE_STATES]),
        )
        t = next((x for x in live if x.accepted), None)
        if t is None or t.upstream_trace_id is None:
            return None
        if not store.certification_release(t.upstream_operator_id, t.upstream_trace_id, me):
            return None
        return t.upstream_operator_id, t.upstream_trace_id

    def download_certificate_file(self, who: Principal, file_operator_id: str, file_id: str) -> tuple[str, bytes]:
        """Extension ``cfpCertificationFile`` (GET): own files, or files released to the caller."""
        me = who.operator_id
        with UnitOfWork(self.engine, write=False) as uow:
            store = OuranosStore(uow)
            row = store.file(file_operator_id, file_id)
            if row is None:
                raise NotFound(f"fileId {file_id} not found", rule="files you own or were released")
            if file_operator_id != me:
                cert = store.certification(row["cfp_certification_id"]) if row["cfp_certification_id"] else None
                allowed = False
                if cert is not None:
                    for _t in store.trades_where(
                        trades.c.downstream_operator_id == me,
                        trades.c.upstream_operator_id == file_operator_id,
                        trades.c.upstream_trace_id == cert["trace_id"],
                        trades.c.status.in_([str(s) for s in ACTIVE_STATES]),
                    ):
                        if store.certification_release(file_operator_id, cert["trace_id"], me):
                            allowed = True
                if not allowed:
                    raise NotFound(f"fileId {file_id} not found", rule="files you own or were released")
            return str(row["file_name"]), bytes(row["content"])

    # ================================================================ notifications

    def notifications(
        self, who: Principal, *, kind: NotificationType | None = None, after: str | None = None, limit: int = 100
    ) -> Page[Notification]:
        with UnitOfWork(self.engine, write=False) as uow:
            store = OuranosStore(uow)
            rows = store.notifications(who.operator_id, kind=kind, after=after, limit=limit + 1)
            more = len(rows) > limit
            out = []
            for nid, k, trade_id, at in rows[:limit]:
                t = store.trade(trade_id)
                if t is None:
                    continue
                out.append(
                    Notification(
                        nid,
                        who.operator_id,
                        k,
                        trade_id,
                        t.downstream_operator_id,
                        t.upstream_operator_id,
                        t.downstream_trace_id,
                        t.upstream_trace_id,
                        at,
                    )
                )
        return Page(tuple(out), rows[limit - 1][0] if more else None)

    # ================================================================ upstream summaries (bridge)

    def publish_summary(self, operator_id: str, trace_id: str, summary_jws: str) -> None:
        """Store the signed upstream summary the operator's ledger partition produced for a part."""
        with UnitOfWork(self.engine) as uow:
            store = OuranosStore(uow)
            if store.part(operator_id, trace_id) is None:
                raise NotYourData(f"traceId {trace_id} is not a part of operator {operator_id}", rule="own parts only")
            store.save_summary(operator_id, trace_id, summary_jws)
            uow.commit()

    def release_summary(self, operator_id: str, trace_id: str, to: str, *, released: bool = True) -> None:
        with UnitOfWork(self.engine) as uow:
            store = OuranosStore(uow)
            if store.part(operator_id, trace_id) is None:
                raise NotYourData(f"traceId {trace_id} is not a part of operator {operator_id}", rule="own parts only")
            if store.operator(to) is None:
                raise NotFound(f"operator {to} is unknown", rule="release to a hosted operator")
            store.set_summary_release(operator_id, trace_id, to, released)
            uow.commit()

    def upstream_summary(self, reader_operator_id: str, owner_operator_id: str, trace_id: str) -> str:
        """The owner's summary JWS for a part, only if the owner released it to the reader."""
        with UnitOfWork(self.engine, write=False) as uow:
            jws = OuranosStore(uow).released_summary(owner_operator_id, trace_id, reader_operator_id)
        if jws is None:
            raise NotFound(
                f"no upstream summary of {trace_id} released to {reader_operator_id}",
                rule="summaries are served to those the owner released them to",
            )
        return jws


# ---------------------------------------------------------------------------------------------


def _page(rows: list[Trade], limit: int, key: Callable[[Trade], str]) -> Page[Trade]:
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(tuple(rows), key(rows[-1]) if more and rows else None)


def _own_entries(rec: CfpRecord) -> list[CfpEntry]:
    return [
        CfpEntry(
            rec.cfp_id,
            rec.trace_id,
            rec.pre_production,
            rec.unit,
            CfpType.PRE_PRODUCTION,
            DqrType.PRE_PROCESSING,
            rec.dqr_pre,
        ),
        CfpEntry(
            rec.cfp_id,
            rec.trace_id,
            rec.main_production,
            rec.unit,
            CfpType.MAIN_PRODUCTION,
            DqrType.MAIN_PROCESSING,
            rec.dqr_main,
        ),
        CfpEntry(
            rec.cfp_id,
            rec.trace_id,
            rec.pre_component,
            rec.unit,
            CfpType.PRE_COMPONENT,
            DqrType.PRE_PROCESSING,
            rec.dqr_pre,
        ),
        CfpEntry(
            rec.cfp_id,
            rec.trace_id,
            rec.main_component,
            rec.unit,
            CfpType.MAIN_COMPONENT,
            DqrType.MAIN_PROCESSING,
            rec.dqr_main,
        ),
    ]


def _stage_entries(cfp_id: str | None, trace_id: str, c: OuranosCfp, suffix: str) -> list[CfpEntry]:
    pre_d, main_d = DqrType(f"preProcessing{suffix}"), DqrType(f"mainProcessing{suffix}")
    return [
        CfpEntry(cfp_id, trace_id, c.pre_production, c.unit, CfpType(f"preProduction{suffix}"), pre_d, _dqr(c.dqr_pre)),
        CfpEntry(
            cfp_id, trace_id, c.main_production, c.unit, CfpType(f"mainProduction{suffix}"), main_d, _dqr(c.dqr_main)
        ),
        CfpEntry(cfp_id, trace_id, c.pre_component, c.unit, CfpType(f"preComponent{suffix}"), pre_d, _dqr(c.dqr_pre)),
        CfpEntry(
            cfp_id, trace_id, c.main_component, c.unit, CfpType(f"mainComponent{suffix}"), main_d, _dqr(c.dqr_main)
        ),
    ]


def _round_dqr(d: Dqr, stage: str) -> Dqr:
    def r(v: Decimal | None, name: str) -> Decimal | None:
        return None if v is None else ouranos_round(v, field=f"{stage}.dqrValue.{name}")

    return Dqr(r(d.ter, "TeR"), r(d.ger, "GeR"), r(d.tir, "TiR"))


def _check_uuid(value: str, field: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"{field} {value!r} is not a UUID", field=field, rule="format uuid") from exc


def _check_text(value: str, field: str, lo: int, hi: int) -> None:
    if not lo <= len(value) <= hi:
        raise InvalidInput(
            f"Validation failed, {field}: the length must be between {lo} and {hi}.",
            field=field,
            rule=f"length {lo}-{hi}",
        )


def _operator_or_404(store: OuranosStore, operator_id: str) -> Operator:
    op = store.operator(operator_id)
    if op is None:
        raise NotFound(f"operator {operator_id} is not hosted here", rule="hosted operators only")
    return op
