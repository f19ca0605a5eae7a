"""Shipments reconciled across nodes (docs/outflows.md "Reconciliation across nodes").

A shipment to another owner must be acknowledged by a receipt at that owner, at the site shipped
to, within ``reconciliation.window_days`` (node config, default 30) of the shipment and within
0.5 % of its mass. Time is the ledger's: an owner's "now" is the time of its latest recorded
event, so a replayed or simulated ledger (the demo's scenario) is judged on its own clock.

The sides, each on its own node, talk in signed messages (compact JWS, ``typ``
:data:`MESSAGE_TYP`, by the sending owner's key, verified through its DID document) written to
the outbox in the transaction that decides them, and carried over the receiver's connector or
the hub's bridge (``batpass.exchange`` reconciliation inbox, ``batpass.bridge`` relay: the outbox
destination only names the addressee's node):

- the shipper's node sends a **notice** of each shipment to another owner (shipment, its lot,
  site, date, document, the shipped mass and the window) to the receiver's node;
- the receiver's node looks for its receipts naming that lot and judges ``ok``, ``short``
  (received less than the shipped mass minus 0.5 %), ``diverted`` (received by another owner of
  that node, or at another site) or, once the window has passed on its clock, ``missing``; it
  sends back only that **verdict** — never the quantity it received (the buyer's quantity stays
  with the buyer, docs/architecture.md "Confidentiality");
- the shipper judges ``missing`` when its window has passed, its notice has left the outbox and
  no verdict came, and tells the receiver so;
- each side raises its alert (``reconciliation.missing|short|diverted``) and **reports** it to
  the authority node its config names (``reconciliation.authority``, a DID), if any.

An owner shipping to another owner of the same node (the hub's operators) is reconciled in the
same transaction, without a message. Knows the ledger's tables and the outbox; not the node,
HTTP or the federation.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import math
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import unquote

from sqlalchemy import Connection, select, update

from batpass.core.errors import BatpassError, ConfigurationError, Forbidden, InvalidInput, NotFound, Unauthorized
from batpass.core.unicode import check_scalar_text
from batpass.ledger import _sql as t
from batpass.ledger._ledger_time import LedgerTime
from batpass.ledger.ports import SignerKeyResolver
from batpass.ledger.service import LedgerService
from batpass.store import UnitOfWork, enqueue, outbox_table
from batpass.trust import CredentialRejected, peek, sign_compact, verify_compact

__all__ = [
    "DEFAULT_WINDOW_DAYS",
    "MESSAGE_TYP",
    "OUTBOX_KIND",
    "TOLERANCE",
    "Outcome",
    "Received",
    "Reconciliation",
    "ReconciliationSettings",
    "judge",
    "parse_settings",
]

#: relative mass tolerance of an acknowledgement: 0.5 % of the shipped mass (issue 19)
TOLERANCE = 0.005
DEFAULT_WINDOW_DAYS = 30
MESSAGE_TYP = "application/vnd.batpass.reconciliation+jws"
OUTBOX_KIND = "ledger.reconciliation"
MESSAGES_PATH = "/v1/ledger/reconciliation/messages"
_RULE = 'ledger.reconciliation (docs/outflows.md "Reconciliation across nodes")'
_ALERT_IDS = uuid.UUID("1b0e6c52-8d0a-4e9b-9a55-2f3c1e7d4b21")
_MAX_WINDOW_DAYS = 3650
_BPNL = re.compile(r"BPNL[0-9A-Z]{12}")


class Outcome(StrEnum):
    """Where a shipment stands; the last three raise an alert at both ends."""

    PENDING = "pending"  # not yet due: inside the window, no receipt yet
    OK = "ok"
    SHORT = "short"
    DIVERTED = "diverted"
    MISSING = "missing"

    @property
    def alert(self) -> str | None:
        return None if self in (Outcome.PENDING, Outcome.OK) else f"reconciliation.{self.value}"


DECIDED = frozenset({Outcome.OK, Outcome.SHORT, Outcome.DIVERTED, Outcome.MISSING})


@dataclass(frozen=True, slots=True)
class ReconciliationSettings:
    """Node config ``reconciliation``: ``window_days``, the ``authority`` (a DID) to report to and
    the ``partners`` (BPNLs) the node's reconciliation inbox admits."""

    window_days: int = DEFAULT_WINDOW_DAYS
    authority: str | None = None
    #: the BPNLs whose connectors may post messages to this node's reconciliation inbox (its
    #: trading partners, the authority, a bridge relaying for hub operators); empty: any member
    partners: tuple[str, ...] = ()


def parse_settings(raw: Any) -> ReconciliationSettings:
    """The node's ``reconciliation`` config; a bad value is a configuration error naming it."""
    if raw is None:
        return ReconciliationSettings()
    if not isinstance(raw, Mapping) or set(raw) - {"window_days", "authority", "partners"}:
        raise ConfigurationError(
            "config.json: reconciliation takes window_days, authority and partners only", rule="reconciliation"
        )
    days = raw.get("window_days", DEFAULT_WINDOW_DAYS)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= _MAX_WINDOW_DAYS:
        raise ConfigurationError(
            f"config.json: reconciliation.window_days must be a whole number of days in 1-{_MAX_WINDOW_DAYS}",
            rule="reconciliation.window_days",
        )
    authority = raw.get("authority")
    if authority is not None and (not isinstance(authority, str) or node_url(authority) is None):
        raise ConfigurationError(
            "config.json: reconciliation.authority must be a did:web", rule="reconciliation.authority"
        )
    partners = raw.get("partners", [])
    if not isinstance(partners, list) or not all(isinstance(p, str) and _BPNL.fullmatch(p) for p in partners):
        raise ConfigurationError(
            "config.json: reconciliation.partners must be a list of BPNLs (BPNL + 12 characters A-Z 0-9)",
            rule="reconciliation.partners",
        )
    return ReconciliationSettings(window_days=days, authority=authority, partners=tuple(dict.fromkeys(partners)))


def node_url(did: str) -> str | None:
    """The base URL of the node serving a ``did:web`` (its host, did:web method spec §3.2.1)."""
    if not did.startswith("did:web:") or len(did) <= 8:
        return None
    host = unquote(did[8:].split(":", 1)[0])
    return f"https://{host}" if host and "/" not in host else None


@dataclass(frozen=True, slots=True)
class Received:
    """One receipt naming the shipper's lot, as the receiver's node holds it."""

    owner: str
    site: str
    kg: float
    at: _dt.datetime


def judge(
    *,
    shipped_kg: float,
    to_owner: str,
    to_site: str,
    shipped_at: _dt.datetime,
    window_days: int,
    now: _dt.datetime,
    receipts: Sequence[Received],
) -> Outcome:
    """The receiver's verdict on one shipment. Only receipts dated within the window count; one
    by another owner or at another site than shipped to is ``diverted``; the mass received is
    ``ok`` down to the shipped mass less :data:`TOLERANCE` (inclusive), ``short`` below; no
    receipt is ``missing`` once ``now`` (the receiver's ledger time) is past the window, else
    ``pending``. More than shipped is ``ok``: nothing of the shipment went elsewhere."""
    deadline = shipped_at + _dt.timedelta(days=window_days)
    counted = [r for r in receipts if r.at <= deadline]
    if not counted:
        return Outcome.MISSING if now > deadline else Outcome.PENDING
    if any(r.owner != to_owner or r.site != to_site for r in counted):
        return Outcome.DIVERTED
    received = math.fsum(r.kg for r in counted)
    floor = shipped_kg * (1.0 - TOLERANCE)
    return Outcome.OK if received >= floor - 1e-9 * max(1.0, shipped_kg) else Outcome.SHORT


_REF = ("shipper", "shipment", "lot", "to_owner", "to_site", "document", "shipped_at")


def _ref(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: row[k] for k in _REF}
    at = out["shipped_at"]
    out["shipped_at"] = at.isoformat() if isinstance(at, _dt.datetime) else at
    return out


class Reconciliation:
    """Reconciliation of the shipments of every owner this node's ledger keeps.

    ``signer_keys`` resolves a partner's key (``did#kid``) through its DID document, to verify
    the messages that arrive (:meth:`receive`); the node's own owners' keys are always known."""

    def __init__(
        self,
        ledger: LedgerService,
        *,
        settings: ReconciliationSettings = ReconciliationSettings(),
        signer_keys: SignerKeyResolver | None = None,
        prefetch: Callable[[str], Awaitable[object]] | None = None,
        reachable: Callable[[str], bool] | None = None,
    ) -> None:
        self.ledger = ledger
        self.engine = ledger.engine
        self.settings = settings
        self._signer_keys = signer_keys
        self._prefetch = prefetch
        #: whether a DID resolves (to a node of the federation): no message goes to one that does
        #: not, so the outbox never retries a party outside the federation until it gives up
        self._reachable = reachable
        self._reached: dict[str, bool] = {}
        #: each owner's ledger time (its latest event's), read again only when its chain grew
        self._time = LedgerTime()

    # ------------------------------------------------------------------ use cases
    def run(self, owner: str | None = None) -> dict[str, int]:
        """Reconcile now (one transaction): notices for new shipments to other owners, verdicts
        on the receipts recorded since, ``missing`` where a window has passed. Returns how many
        rows changed per outcome."""
        changed: dict[str, int] = {}
        for o in [owner] if owner else self.ledger.owners():
            self._keeps_or_raise(o)
            with UnitOfWork(self.engine) as uow:  # one owner at a time: short write transactions
                self._shipper_pass(uow, o, changed)
                self._receiver_pass(uow, o, changed)
                uow.commit()
        return changed

    def outcomes(self, owner: str) -> dict[str, Any]:
        """``GET /v1/ledger/reconciliation``: each shipment ``owner`` shipped to or was told of,
        with its outcome (the shipper's and the receiver's own view; an authority's reports)."""
        with UnitOfWork(self.engine, write=False) as uow:
            rows = uow.conn.execute(
                select(t.reconciliation)
                .where(t.reconciliation.c.owner == owner)
                .order_by(t.reconciliation.c.shipped_at, t.reconciliation.c.shipment)
            ).all()
            now = self._time.now(uow.conn, owner)
        items = [_item(dict(r._mapping)) for r in rows]
        counts: dict[str, dict[str, int]] = {}
        for it in items:
            by = counts.setdefault(it["role"], {o.value: 0 for o in Outcome})
            by[it["outcome"]] += 1
        return {
            "owner": owner,
            "window_days": self.settings.window_days,
            "tolerance": TOLERANCE,
            "ledger_time": now.isoformat() if now else None,
            "counts": counts,
            "shipments": items,
        }

    def alerts(self, owner: str | None = None) -> list[dict[str, Any]]:
        """The reconciliation alerts raised here, in the shape of the outflow alerts
        (``{owner, id, shipment, rule, evidence}``), oldest first."""
        r = t.reconciliation
        with UnitOfWork(self.engine, write=False) as uow:
            q = select(r).where(r.c.alert_id.is_not(None)).order_by(r.c.updated_at, r.c.alert_id)
            if owner:
                q = q.where(r.c.owner == owner)
            rows = uow.conn.execute(q).all()
        return [
            {
                "owner": row.owner,
                "id": row.alert_id,
                "shipment": row.shipment,
                "rule": Outcome(row.outcome).alert,
                "evidence": _evidence(dict(row._mapping)),
            }
            for row in rows
        ]

    async def prefetch(self, token: str) -> None:
        """Resolve a message's sender's DID document on the event loop before :meth:`receive`
        runs in a worker thread: a burst of messages between two nodes would otherwise fill both
        nodes' threads with handlers each waiting for the other's DID document, served by a
        thread of that other node. A failure here is left to :meth:`receive` to report."""
        if self._prefetch is None:
            return
        try:
            kid = peek(token)[0].get("kid")
        except CredentialRejected:
            return
        if isinstance(kid, str) and "#" in kid and self.ledger.resolve_key(kid) is None:
            with contextlib.suppress(BatpassError, CredentialRejected):
                await self._prefetch(kid.split("#", 1)[0])

    def receive(self, token: str) -> dict[str, Any]:
        """Apply one signed message from another node (notice, verdict or report); a replay
        changes nothing. Returns ``{type, shipment, outcome}`` as this node now sees it."""
        msg = self._verify(token)
        with UnitOfWork(self.engine) as uow:
            outcome = self._apply(uow, msg)
            uow.commit()
        return {"type": msg["type"], "shipment": msg["shipment"], "outcome": outcome}

    def receive_many(self, tokens: Sequence[str]) -> list[dict[str, Any] | BatpassError]:
        """Apply messages that arrived together (see :func:`_receive_many`)."""
        return _receive_many(self, tokens)

    # ------------------------------------------------------------------ the shipper's side
    def _shipper_pass(self, uow: UnitOfWork, owner: str, changed: dict[str, int]) -> None:
        conn = uow.conn
        r = t.reconciliation
        known = {
            s
            for (s,) in conn.execute(
                select(r.c.shipment).where(r.c.owner == owner, r.c.role == "shipper", r.c.reported_by == owner)
            )
        }
        now = self._time.now(conn, owner)
        for row in conn.execute(
            select(t.events.c.id, t.events.c.at, t.events.c.body).where(
                t.events_of(owner), t.events.c.kind == "shipment"
            )
        ):
            if row.id in known:
                continue
            ev = json.loads(row.body)
            to_owner = ev["shipment"].get("to_owner")
            if not to_owner or to_owner == owner:
                continue
            lot = ev["outputs"][0]["lot"]
            got = conn.execute(
                select(t.lots.c.mass_kg, t.lots.c.voided).where(t.lots.c.owner == owner, t.lots.c.id == lot)
            ).first()
            if got is None or got.voided:
                continue
            ship = {
                "shipper": owner,
                "shipment": row.id,
                "lot": lot,
                "to_owner": to_owner,
                "to_site": ev["shipment"]["to_site"]["id"],
                "document": ev["shipment"]["document"],
                "shipped_at": row.at,
            }
            _upsert(self, conn, owner, "shipper", owner, ship, shipped_kg=float(got.mass_kg))
            _count(changed, Outcome.PENDING)
            notice = {
                **_ref(ship),
                "type": "notice",
                "kg": float(got.mass_kg),
                "window_days": self.settings.window_days,
            }
            self._send(uow, owner, to_owner, notice, key=f"notice:{row.id}")
        # missing: the window passed on the shipper's clock, the notice left and no verdict came
        if now is None:
            return
        for row in conn.execute(
            select(r).where(
                r.c.owner == owner, r.c.role == "shipper", r.c.reported_by == owner, r.c.outcome == Outcome.PENDING
            )
        ).all():
            m = dict(row._mapping)
            if now <= m["shipped_at"] + _dt.timedelta(days=m["window_days"]) or self._notice_pending(conn, m):
                continue
            self._decide(uow, owner, "shipper", m, Outcome.MISSING, now, tell=m["to_owner"])
            _count(changed, Outcome.MISSING)

    def _notice_pending(self, conn: Connection, m: Mapping[str, Any]) -> bool:
        status = conn.execute(
            select(outbox_table.c.status).where(
                outbox_table.c.idempotency_key == _outbox_key(m["owner"], f"notice:{m['shipment']}")
            )
        ).scalar_one_or_none()
        return status == "pending"

    # ------------------------------------------------------------------ the receiver's side
    def _receiver_pass(self, uow: UnitOfWork, owner: str, changed: dict[str, int]) -> None:
        r = t.reconciliation
        rows = uow.conn.execute(
            select(r).where(
                r.c.owner == owner,
                r.c.role == "receiver",
                r.c.reported_by == owner,
                # missing too: a receipt dated within the window may be recorded late
                r.c.outcome.in_([Outcome.PENDING, Outcome.SHORT, Outcome.MISSING]),
            )
        ).all()
        for row in rows:
            before = row.outcome
            after = self._judge_received(uow, dict(row._mapping))
            if after != before:
                _count(changed, Outcome(after))

    def _judge_received(self, uow: UnitOfWork, m: Mapping[str, Any]) -> str:
        """Judge one receiver row from this node's receipts; on a change, record it, tell the
        shipper (unless still pending) and raise the alert."""
        conn = uow.conn
        now = self._time.now(conn, m["owner"]) or m["shipped_at"]
        found = conn.execute(t.shipment_receipts_query(m["shipper"], m["lot"])).all()
        keeps = [x for x in found if self._keeps(x.owner)]
        outcome = judge(
            shipped_kg=float(m["shipped_kg"] or 0.0),
            to_owner=m["to_owner"],
            to_site=m["to_site"],
            shipped_at=m["shipped_at"],
            window_days=int(m["window_days"]),
            now=now,
            receipts=[Received(x.owner, x.site, float(x.mass_kg), x.produced_at) for x in keeps],
        )
        if outcome == m["outcome"] or (outcome is Outcome.PENDING and m["outcome"] == Outcome.MISSING):
            return str(m["outcome"])  # the shipper's "missing" stands until a receipt counts
        tell = None if outcome is Outcome.PENDING else m["shipper"]
        self._decide(uow, m["owner"], "receiver", m, outcome, now, tell=tell)
        return outcome

    # ------------------------------------------------------------------ messages
    def _apply(self, uow: UnitOfWork, msg: Mapping[str, Any]) -> str:
        conn = uow.conn
        kind, iss, aud = msg["type"], msg["iss"], msg["aud"]
        r = t.reconciliation
        if kind == "notice":
            if iss != msg["shipper"] or aud != msg["to_owner"]:
                raise Forbidden("a notice comes from the shipper to the receiver", field="iss", rule=_RULE)
            self._keeps_or_raise(aud)
            row = _row(conn, aud, "receiver", msg["shipper"], msg["shipment"], aud)
            if row is None:
                _upsert(
                    self, conn, aud, "receiver", aud, msg, shipped_kg=float(msg["kg"]), window=int(msg["window_days"])
                )
                row = _row(conn, aud, "receiver", msg["shipper"], msg["shipment"], aud)
                assert row is not None
            if row["outcome"] in (Outcome.PENDING, Outcome.SHORT):
                return self._judge_received(uow, row)
            return str(row["outcome"])
        if kind == "verdict":
            outcome = Outcome(msg["outcome"])
            if iss == msg["to_owner"] and aud == msg["shipper"]:  # the receiver tells the shipper
                self._keeps_or_raise(aud)
                row = _row(conn, aud, "shipper", aud, msg["shipment"], aud)
                if row is None:
                    raise NotFound(f"no shipment {msg['shipment']} of {aud} to reconcile", field="shipment", rule=_RULE)
                if row["outcome"] != outcome:
                    now = self._time.now(conn, aud) or row["shipped_at"]
                    self._decide(uow, aud, "shipper", row, outcome, now, tell=None)
                return outcome.value
            if iss == msg["shipper"] and aud == msg["to_owner"] and outcome is Outcome.MISSING:
                self._keeps_or_raise(aud)
                row = _row(conn, aud, "receiver", iss, msg["shipment"], aud)
                if row is None:
                    _upsert(self, conn, aud, "receiver", aud, msg, shipped_kg=None, window=self.settings.window_days)
                    row = _row(conn, aud, "receiver", iss, msg["shipment"], aud)
                    assert row is not None
                if row["outcome"] != Outcome.PENDING:  # a receiver that judged keeps its verdict
                    return str(row["outcome"])
                now = self._time.now(conn, aud) or row["shipped_at"]
                self._decide(uow, aud, "receiver", row, outcome, now, tell=None)
                return outcome.value
            raise Forbidden("a verdict comes from one side of the shipment to the other", field="iss", rule=_RULE)
        # a report to this node as the authority
        if aud != self.ledger.identity.did or iss not in (msg["shipper"], msg["to_owner"]):
            raise Forbidden("a report comes from a side of the shipment to the authority", field="aud", rule=_RULE)
        outcome = Outcome(msg["outcome"])
        if outcome.alert is None:
            raise InvalidInput("a report carries an alerting outcome", field="outcome", rule=_RULE)
        now = _parse_time(msg["judged_at"], "judged_at")
        row = _row(conn, aud, "authority", msg["shipper"], msg["shipment"], iss)
        if row is None:
            _upsert(self, conn, aud, "authority", iss, msg, shipped_kg=None, window=int(msg["window_days"]))
        _set(self, conn, aud, "authority", msg["shipper"], msg["shipment"], iss, outcome, now)
        conn.execute(
            update(r)
            .where(
                r.c.owner == aud,
                r.c.role == "authority",
                r.c.shipper == msg["shipper"],
                r.c.shipment == msg["shipment"],
                r.c.reported_by == iss,
            )
            .values(window_days=int(msg["window_days"]))
        )
        return outcome.value

    def _decide(
        self,
        uow: UnitOfWork,
        owner: str,
        role: str,
        m: Mapping[str, Any],
        outcome: Outcome,
        now: _dt.datetime,
        *,
        tell: str | None,
    ) -> None:
        """Record an outcome on this side; tell the other side (``tell``) and the authority."""
        _set(self, uow.conn, owner, role, m["shipper"], m["shipment"], owner, outcome, now)
        ref = _ref(m)
        if tell is not None:
            self._send(
                uow,
                owner,
                tell,
                {**ref, "type": "verdict", "outcome": outcome.value},
                key=f"verdict:{m['shipment']}:{outcome.value}",
            )
        authority = self.settings.authority
        if outcome.alert is not None and authority is not None:
            report = {
                **ref,
                "type": "report",
                "outcome": outcome.value,
                "judged_at": now.isoformat(),
                "window_days": int(m["window_days"]),
            }
            self._send(uow, owner, authority, report, key=f"report:{m['shipment']}:{outcome.value}")

    def _send(self, uow: UnitOfWork, sender: str, to: str, body: dict[str, Any], *, key: str) -> None:
        """A message to ``to``: applied at once when this node keeps ``to`` (no network), else
        signed and written to the outbox for ``to``'s node."""
        msg = {**body, "iss": sender, "aud": to}
        if self._keeps(to) and (body["type"] != "report" or to == self.ledger.identity.did):
            self._apply(uow, msg)
            return
        url = node_url(to)
        if url is None or not self._reaches(to):
            return  # no node of the federation to tell; this side stays as judged here
        enqueue(
            uow,
            kind=OUTBOX_KIND,
            destination=url + MESSAGES_PATH,
            body={"jws": self._sign(msg)},
            idempotency_key=_outbox_key(sender, key),
        )

    def _reaches(self, did: str) -> bool:
        if self._reachable is None:
            return True
        if did not in self._reached:  # asked once per party and process (resolving may fetch)
            self._reached[did] = self._reachable(did)
        return self._reached[did]

    def _sign(self, msg: Mapping[str, Any]) -> str:
        identity = self.ledger.identity_for(str(msg["iss"]))
        kp = identity.active("Ed25519")
        payload = json.dumps(msg, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        return sign_compact({"kid": identity.key_id(kp), "typ": MESSAGE_TYP}, payload, kp)

    def _verify(self, token: str) -> dict[str, Any]:
        try:
            header, _ = peek(token)
        except CredentialRejected as exc:
            raise InvalidInput("the message is not a compact JWS", field="jws", rule="RFC 7515 §7.1") from exc
        kid = header.get("kid")
        if header.get("typ") != MESSAGE_TYP or header.get("alg") != "Ed25519" or not isinstance(kid, str):
            raise InvalidInput(f"a message needs typ {MESSAGE_TYP}, alg Ed25519 and a kid", field="jws", rule=_RULE)
        jwk = self.ledger.resolve_key(kid)
        if jwk is None and self._signer_keys is not None:
            jwk = self._signer_keys(kid)
        if jwk is None:
            raise Unauthorized(
                f"no public key known for {kid}", field="kid", rule="did:web: kid is the sender's DID URL"
            )
        try:
            _, msg = verify_compact(token, jwk, typ=MESSAGE_TYP, algs=("Ed25519",))
        except CredentialRejected as exc:
            raise Unauthorized("the message's signature does not verify", field="jws", rule="RFC 7515") from exc
        if msg.get("iss") != kid.split("#", 1)[0]:
            raise Unauthorized("the message's iss differs from the signing key's DID", field="iss", rule=_RULE)
        check_scalar_text(msg)
        return _check_message(msg)

    def keeps(self, owner: str) -> bool:
        """Whether this node keeps ``owner``'s ledger (a message to it is applied here)."""
        return self._keeps(owner)

    # ------------------------------------------------------------------ rows
    def _keeps(self, owner: str) -> bool:
        try:
            self.ledger.identity_for(owner)
        except Forbidden:
            return False
        return True

    def _keeps_or_raise(self, owner: str) -> None:
        self.ledger.identity_for(owner)  # Forbidden: this node keeps no ledger for that owner


def _receive_many(rec: Reconciliation, tokens: Sequence[str]) -> list[dict[str, Any] | BatpassError]:
    """Apply messages that arrived together, in their order, in one transaction; each one's
    answer as :meth:`receive` gives it, or the refusal it raised. When one is refused while
    applied, each is applied again in its own transaction (the others' effects stand)."""
    checked: list[dict[str, Any] | BatpassError] = []
    for token in tokens:
        try:
            checked.append(rec._verify(token))
        except BatpassError as exc:
            checked.append(exc)
    msgs = [m for m in checked if not isinstance(m, BatpassError)]
    outcomes: list[str] | None = None
    if len(msgs) > 1:
        try:
            with UnitOfWork(rec.engine) as uow:
                outcomes = [rec._apply(uow, m) for m in msgs]
                uow.commit()
        except BatpassError:
            outcomes = None  # one was refused: each on its own below
    done = iter(outcomes or ())
    out: list[dict[str, Any] | BatpassError] = []
    for m in checked:
        if isinstance(m, BatpassError):
            out.append(m)
            continue
        try:
            if outcomes is not None:
                outcome = next(done)
            else:
                with UnitOfWork(rec.engine) as uow:
                    outcome = rec._apply(uow, m)
                    uow.commit()
            out.append({"type": m["type"], "shipment": m["shipment"], "outcome": outcome})
        except BatpassError as exc:
            out.append(exc)
    return out


def _row(
    conn: Connection, owner: str, role: str, shipper: str, shipment: str, reported_by: str
) -> dict[str, Any] | None:
    r = t.reconciliation
    got = conn.execute(
        select(r).where(
            r.c.owner == owner,
            r.c.role == role,
            r.c.shipper == shipper,
            r.c.shipment == shipment,
            r.c.reported_by == reported_by,
        )
    ).first()
    return dict(got._mapping) if got is not None else None


def _upsert(
    svc: Reconciliation,
    conn: Connection,
    owner: str,
    role: str,
    reported_by: str,
    ref: Mapping[str, Any],
    *,
    shipped_kg: float | None,
    window: int | None = None,
) -> None:
    at = ref["shipped_at"]
    conn.execute(
        t.reconciliation.insert().values(
            owner=owner,
            role=role,
            shipper=ref["shipper"],
            shipment=ref["shipment"],
            reported_by=reported_by,
            lot=ref["lot"],
            to_owner=ref["to_owner"],
            to_site=ref["to_site"],
            document=ref["document"],
            shipped_at=at if isinstance(at, _dt.datetime) else _parse_time(at, "shipped_at"),
            shipped_kg=shipped_kg,
            window_days=window if window is not None else svc.settings.window_days,
            outcome=Outcome.PENDING.value,
            updated_at=svc.ledger.clock.now(),
        )
    )


def _set(
    svc: Reconciliation,
    conn: Connection,
    owner: str,
    role: str,
    shipper: str,
    shipment: str,
    reported_by: str,
    outcome: Outcome,
    at: _dt.datetime,
) -> None:
    r = t.reconciliation
    alert = None
    if outcome.alert is not None:
        alert = str(uuid.uuid5(_ALERT_IDS, f"{owner}|{role}|{shipper}|{shipment}|{reported_by}"))
    conn.execute(
        update(r)
        .where(
            r.c.owner == owner,
            r.c.role == role,
            r.c.shipper == shipper,
            r.c.shipment == shipment,
            r.c.reported_by == reported_by,
        )
        .values(outcome=outcome.value, judged_at=at, alert_id=alert, updated_at=svc.ledger.clock.now())
    )


def _item(m: Mapping[str, Any]) -> dict[str, Any]:
    item = {
        **_ref(m),
        "role": m["role"],
        "outcome": m["outcome"],
        "alert": Outcome(m["outcome"]).alert,
        "judged_at": m["judged_at"].isoformat() if m["judged_at"] else None,
        "due": (m["shipped_at"] + _dt.timedelta(days=m["window_days"])).isoformat(),
    }
    if m["role"] == "authority":
        item["reported_by"] = m["reported_by"]
    if m["role"] == "shipper":  # the shipper's own quantity; a receiver's never leaves its node
        item["shipped_kg"] = m["shipped_kg"]
    return item


def _evidence(m: Mapping[str, Any]) -> dict[str, Any]:
    ev = _item(m)
    ev.pop("alert")
    ev["window_days"] = m["window_days"]
    ev["tolerance"] = TOLERANCE
    return ev


def _outbox_key(sender: str, key: str) -> str:
    """The outbox idempotency key of one message (at most 128 characters whatever the DIDs)."""
    return "recon:" + hashlib.sha256(f"{sender}|{key}".encode()).hexdigest()


def _count(changed: dict[str, int], outcome: Outcome) -> None:
    changed[outcome.value] = changed.get(outcome.value, 0) + 1


def _parse_time(v: Any, name: str) -> _dt.datetime:
    try:
        at = _dt.datetime.fromisoformat(v) if isinstance(v, str) else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise InvalidInput(f"{name} must be an RFC 3339 timestamp", field=name, rule="RFC 3339")
    return at


_TYPES: Mapping[str, frozenset[str]] = {
    "notice": frozenset({"kg", "window_days"}),
    "verdict": frozenset({"outcome"}),
    "report": frozenset({"outcome", "judged_at", "window_days"}),
}


def _check_message(msg: Mapping[str, Any]) -> dict[str, Any]:
    """A message's members, each present and of its type (unknown members are refused)."""
    kind = msg.get("type")
    if not isinstance(kind, str) or kind not in _TYPES:
        raise InvalidInput(f"type must be one of {', '.join(_TYPES)}", field="type", rule=_RULE)
    allowed = set(_REF) | {"type", "iss", "aud"} | _TYPES[kind]
    extra = sorted(set(msg) - allowed)
    if extra:
        raise InvalidInput(f"unknown member '{extra[0]}'", field=extra[0], rule=_RULE)
    for k in sorted(allowed):
        if k not in msg:
            raise InvalidInput(f"{k} is required", field=k, rule=_RULE)
    for k in (*_REF, "iss", "aud"):
        if not isinstance(msg[k], str) or not msg[k] or len(msg[k]) > 512:
            raise InvalidInput(f"{k} must be a string of 1-512 characters", field=k, rule=_RULE)
    for k in ("shipment", "lot", "to_site"):
        if len(msg[k]) > 128:
            raise InvalidInput(f"{k} must be at most 128 characters", field=k, rule=_RULE)
    _parse_time(msg["shipped_at"], "shipped_at")
    if "outcome" in msg and msg["outcome"] not in {o.value for o in DECIDED}:
        raise InvalidInput("outcome must be ok, short, diverted or missing", field="outcome", rule=_RULE)
    if "kg" in msg:
        kg = msg["kg"]
        if isinstance(kg, bool) or not isinstance(kg, int | float) or not math.isfinite(kg) or kg <= 0:
            raise InvalidInput("kg must be a number > 0", field="kg", rule=_RULE)
    if "window_days" in msg:
        w = msg["window_days"]
        if isinstance(w, bool) or not isinstance(w, int) or not 1 <= w <= _MAX_WINDOW_DAYS:
            raise InvalidInput(
                f"window_days must be a whole number in 1-{_MAX_WINDOW_DAYS}", field="window_days", rule=_RULE
            )
    return dict(msg)
