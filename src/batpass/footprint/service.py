"""The PACT v3 host system of a node: footprints served, OAuth2 client credentials, events.

Source: PACT Technical Specifications v3 (wbcsd/pact-conformance-service ``src/schemas/openapi_v3_0.yaml``,
bundled as ``_data/pact-openapi-3.0.4.yaml``): Action ListFootprints (filters: ``productId``,
``companyId``, ``geography``, ``classification`` — OR within a criterion, AND across, case-
insensitive —, ``validOn``, ``validAfter``, ``validBefore``, ``status``), Action GetFootprint,
Action Events (CloudEvents 1.0 structured mode, the four ``….3`` event types) and the
authentication flow (OAuth2 client credentials, RFC 6749 section 4.4).

A ``RequestCreatedEvent`` is answered in the transaction that accepts it: the footprints matching
its criteria go back in a ``RequestFulfilledEvent`` (or a ``RequestRejectedEvent`` when none
match), POSTed to the requester's ``/3/events`` (derived from the event's ``source``) through the
outbox, which the node's dispatcher sends after commit with retries. The row carries no token:
:meth:`PactService.outbox_headers` (the dispatcher's ``sign_headers`` hook) obtains one from the
requester's token endpoint, with the credentials the requester gave this node, when the row is sent.

The requesting side: :meth:`PactService.register_peer` keeps a partner's credentials and
:meth:`PactService.request_footprints` sends it a RequestCreatedEvent; the answer arrives on this
node's own ``/3/events`` and closes the request (``pact_requests``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import ColumnElement, Engine, and_, delete, func, insert, select, update

from batpass.core.clock import Clock, SystemClock
from batpass.core.errors import ConfigurationError, InvalidInput, NotFound, Unauthorized, UpstreamUnavailable
from batpass.core.ids import new_uuid7
from batpass.core.unicode import check_scalar_text
from batpass.footprint._pact import read_pact, write_pact_v3
from batpass.footprint._pact_client import (
    CLOUDEVENTS_JSON,
    PactPeer,
    TokenCache,
    find_peer,
    list_peers,
    post_event,
    save_peer,
)
from batpass.footprint._sql import (
    pact_clients,
    pact_events,
    pact_footprint_keys,
    pact_footprints,
    pact_requests,
    pact_tokens,
)
from batpass.footprint.errors import OAuthError, TokenExpired
from batpass.footprint.model import ProductFootprint
from batpass.store import UnitOfWork, enqueue, remember_delivery

__all__ = [
    "EVENT_TYPES",
    "ClientCredentials",
    "FootprintFilter",
    "FootprintPage",
    "IssuedToken",
    "PactPeer",
    "PactService",
    "events_endpoint",
]

#: PACT v3 event types (``type`` of each ``…Event`` schema)
REQUEST_CREATED = "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3"
REQUEST_FULFILLED = "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3"
REQUEST_REJECTED = "org.wbcsd.pact.ProductFootprint.RequestRejectedEvent.3"
PUBLISHED = "org.wbcsd.pact.ProductFootprint.PublishedEvent.3"
EVENT_TYPES = frozenset({REQUEST_CREATED, REQUEST_FULFILLED, REQUEST_REJECTED, PUBLISHED})
#: the outbox ``kind`` of PACT events this node sends (the dispatcher hook authorises these)
OUTBOX_KIND = "pact.event"

#: PACT v3 "validity period": without validityPeriodEnd a footprint is valid 3 years after referencePeriodEnd
DEFAULT_VALIDITY = dt.timedelta(days=3 * 365)
STATUSES = ("Active", "Deprecated")
KEY_KINDS = ("productId", "companyId", "classification", "geography")


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _parse_time(value: Any, field: str) -> dt.datetime:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be an RFC 3339 date-time string", field=field, rule="format date-time")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(
            f"{field} {value!r} is not an RFC 3339 date-time", field=field, rule="format date-time", value=value
        ) from exc
    if parsed.tzinfo is None:
        raise InvalidInput(f"{field} {value!r} has no UTC offset", field=field, rule="RFC 3339 date-time", value=value)
    return parsed.astimezone(dt.UTC)


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def answer_event(
    request: Mapping[str, Any],
    docs: list[dict[str, Any]],
    kinds: tuple[str, str],
    source: str,
    now: dt.datetime,
) -> dict[str, Any]:
    """The CloudEvent answering a footprint request (``kinds``: the PACT version's fulfilled and
    rejected event types): the matching footprints, or NotFound when none matches."""
    data: dict[str, Any]
    if docs:
        kind, data = kinds[0], {"requestEventId": request["id"], "pfs": docs}
    else:
        kind = kinds[1]
        data = {
            "requestEventId": request["id"],
            "error": {"code": "NotFound", "message": "The requested footprint could not be found."},
        }
    return {
        "type": kind,
        "specversion": "1.0",
        "id": str(new_uuid7()),
        "source": source,
        "time": _iso(now),
        "data": data,
    }


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """An OAuth2 client of this node's PACT API; the secret is shown once and stored hashed."""

    client_id: str
    client_secret: str
    name: str


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int
    token_type: str = "Bearer"


@dataclass(frozen=True, slots=True)
class FootprintFilter:
    """The v3 ListFootprints / RequestCreatedEvent criteria (each empty criterion matches all)."""

    product_ids: tuple[str, ...] = ()
    company_ids: tuple[str, ...] = ()
    geographies: tuple[str, ...] = ()
    classifications: tuple[str, ...] = ()
    valid_on: dt.datetime | None = None
    valid_after: dt.datetime | None = None
    valid_before: dt.datetime | None = None
    statuses: tuple[str, ...] = ()

    @classmethod
    def from_event_data(cls, data: Mapping[str, Any]) -> FootprintFilter:
        """Criteria of a RequestCreatedEvent's ``data`` (arrays of strings and date-times)."""

        def strings(name: str) -> tuple[str, ...]:
            value = data.get(name)
            if value is None:
                return ()
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidInput(
                    f"data.{name} must be an array of strings", field=f"data.{name}", rule="RequestCreatedEvent.data"
                )
            return tuple(value)

        def when(name: str) -> dt.datetime | None:
            value = data.get(name)
            return None if value is None else _parse_time(value, f"data.{name}")

        statuses = strings("status")
        for s in statuses:
            if s not in STATUSES:
                raise InvalidInput(
                    f"data.status {s!r} is not Active or Deprecated",
                    field="data.status",
                    rule="RequestCreatedEvent.data.status enum",
                    value=s,
                )
        return cls(
            product_ids=strings("productId"),
            company_ids=strings("companyId"),
            geographies=strings("geography"),
            classifications=strings("classification"),
            valid_on=when("validOn"),
            valid_after=when("validAfter"),
            valid_before=when("validBefore"),
            statuses=statuses,
        )

    def criteria(self) -> Iterable[tuple[str, tuple[str, ...]]]:
        yield "productId", self.product_ids
        yield "companyId", self.company_ids
        yield "classification", self.classifications
        yield "geography", self.geographies


@dataclass(frozen=True, slots=True)
class FootprintPage:
    documents: list[dict[str, Any]]
    total: int
    offset: int
    limit: int


def events_endpoint(source: str, *, version: int = 3) -> str:
    """The requester's Action Events URL from a CloudEvent ``source``: the URL itself when it
    already names ``/3/events`` (``/2/events`` for ``version`` 2), else ``<source>/3/events``;
    scheme-relative ``//host/…`` is HTTPS. PACT requires HTTPS, so anything else cannot be answered."""
    url = "https:" + source if source.startswith("//") else source
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        raise InvalidInput(
            f"event source {source!r} is not an HTTPS URL the answer can be POSTed to",
            field="source",
            rule=f"PACT: the answer event is POSTed to the requester's /{version}/events over HTTPS",
            value=source,
        )
    path, events = parts.path.rstrip("/"), f"/{version}/events"
    if not path.endswith(events):
        path += events
    return f"https://{parts.netloc}{path}"


def _validity(doc: Mapping[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    """PACT v3 validity period: ``validityPeriodStart``/``End`` or, missing, the reference period
    end and 3 years after it."""
    ref_end = _parse_time(doc["pcf"]["referencePeriodEnd"], "pcf.referencePeriodEnd")
    start = doc.get("validityPeriodStart")
    end = doc.get("validityPeriodEnd")
    return (
        _parse_time(start, "validityPeriodStart") if start else ref_end,
        _parse_time(end, "validityPeriodEnd") if end else ref_end + DEFAULT_VALIDITY,
    )


def _keys_of(doc: Mapping[str, Any]) -> set[tuple[str, str]]:
    pcf = doc.get("pcf") or {}
    keys = {("productId", str(v).lower()) for v in doc.get("productIds") or ()}
    keys |= {("companyId", str(v).lower()) for v in doc.get("companyIds") or ()}
    keys |= {("classification", str(v).lower()) for v in doc.get("productClassifications") or ()}
    for name in ("geographyCountry", "geographyRegionOrSubregion", "geographyCountrySubdivision"):
        if pcf.get(name):
            keys.add(("geography", str(pcf[name]).lower()))
    return keys


class PactService:
    """PACT v3 host system over one node's store.

    Constructed by the composition root as ``PactService(engine, base_url=node.base_url,
    client=ctx.sync_client)``; ``base_url`` is the node's public HTTPS origin (answers name
    ``<base_url>/pact/3/events`` as their ``source``); ``client`` (trusting the federation CA)
    calls partners' token and events endpoints — without it the node serves PACT but sends
    nothing authenticated. ``clock`` stamps events, tokens and requests. :meth:`outbox_headers` is
    the outbox dispatcher's ``sign_headers``.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        base_url: str,
        client: httpx.Client | None = None,
        tokens: TokenCache | None = None,
        token_ttl_seconds: int = 3600,
        max_page_size: int = 100,
        clock: Clock = SystemClock(),
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.base_url = base_url.rstrip("/")
        self.client = client
        self.tokens = tokens if tokens is not None else TokenCache()
        self.token_ttl_seconds = token_ttl_seconds
        self.max_page_size = max_page_size

    @property
    def events_source(self) -> str:
        return f"{self.base_url}/pact/3/events"

    # ---- admin ---------------------------------------------------------------------------------

    def create_client(self, name: str) -> ClientCredentials:
        """A new OAuth2 client (id and a 256-bit secret); only the secret's digest is stored."""
        if not name.strip():
            raise InvalidInput("a client needs a name", field="name", rule="non-empty")
        creds = ClientCredentials(client_id=str(new_uuid7()), client_secret=secrets.token_urlsafe(32), name=name)
        with UnitOfWork(self.engine) as uow:
            uow.conn.execute(
                insert(pact_clients).values(
                    client_id=creds.client_id,
                    secret_sha256=_sha256(creds.client_secret),
                    name=name,
                    created_at=self.clock.now(),
                )
            )
            uow.commit()
        return creds

    def store_footprint(self, footprint: ProductFootprint) -> dict[str, Any]:
        """Serve ``footprint`` as a PACT v3 ProductFootprint (replacing one with the same id)."""
        return self.store_document(write_pact_v3(footprint))

    def store_document(
        self, document: Mapping[str, Any], *, v2_document: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Serve a PACT v3 document as given once read as v3 (a v2 or broken one is refused with field
        and rule, nothing stored); the v2.3 API serves ``v2_document``, the v2 it came from, if any.
        Text no store holds (a lone surrogate, NUL) is refused naming the member: a document may
        come from a partner (the bridge's hub), not only through the node's JSON body checks."""
        doc = dict(document)
        check_scalar_text(doc)
        if v2_document is not None:
            check_scalar_text(v2_document)
        read_pact(doc, expect=3)
        valid_from, valid_to = _validity(doc)
        fid = str(doc["id"])
        now = self.clock.now()
        with UnitOfWork(self.engine) as uow:
            exists = uow.conn.execute(select(pact_footprints.c.id).where(pact_footprints.c.id == fid)).first()
            values = {
                "status": str(doc.get("status", "Active")),
                "valid_from": valid_from,
                "valid_to": valid_to,
                "document": doc,
                "v2_document": None if v2_document is None else dict(v2_document),
                "stored_at": now,
            }
            if exists:
                uow.conn.execute(update(pact_footprints).where(pact_footprints.c.id == fid).values(**values))
                uow.conn.execute(delete(pact_footprint_keys).where(pact_footprint_keys.c.footprint_id == fid))
            else:
                uow.conn.execute(insert(pact_footprints).values(id=fid, seq=str(new_uuid7()), **values))
            keys = [{"footprint_id": fid, "kind": k, "value": v[:512]} for k, v in sorted(_keys_of(doc))]
            if keys:
                uow.conn.execute(insert(pact_footprint_keys), keys)
            uow.commit()
        return doc

    # ---- OAuth2 client credentials (RFC 6749 section 4.4) --------------------------------------

    def issue_token(self, client_id: str | None, client_secret: str | None, *, grant_type: str | None) -> IssuedToken:
        if grant_type != "client_credentials":
            raise OAuthError(
                f"grant_type {grant_type!r} is not supported; use client_credentials",
                error="unsupported_grant_type" if grant_type else "invalid_request",
                status=400,
                rule="RFC 6749 section 4.4.2",
            )
        if not client_id or not client_secret:
            raise OAuthError(
                "client authentication failed: no client credentials",
                error="invalid_client",
                status=401,
                rule="RFC 6749 section 2.3.1 (HTTP Basic or client_id/client_secret form fields)",
            )
        with UnitOfWork(self.engine) as uow:
            stored = uow.conn.execute(
                select(pact_clients.c.secret_sha256).where(pact_clients.c.client_id == client_id)
            ).scalar_one_or_none()
            if stored is None or not hmac.compare_digest(str(stored), _sha256(client_secret)):
                raise OAuthError(
                    "client authentication failed", error="invalid_client", status=401, rule="RFC 6749 section 5.2"
                )
            token = secrets.token_urlsafe(32)
            now = self.clock.now()
            uow.conn.execute(delete(pact_tokens).where(pact_tokens.c.expires_at < now))
            uow.conn.execute(
                insert(pact_tokens).values(
                    token_sha256=_sha256(token),
                    client_id=client_id,
                    expires_at=now + dt.timedelta(seconds=self.token_ttl_seconds),
                )
            )
            uow.commit()
        return IssuedToken(access_token=token, expires_in=self.token_ttl_seconds)

    def authenticate(self, authorization: str | None) -> str:
        """The client id behind an ``Authorization: Bearer …`` header."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Invalid token provided: no bearer token", rule="PACT v3 BearerAuth")
        with self.engine.connect() as conn:
            row = conn.execute(
                select(pact_tokens.c.client_id, pact_tokens.c.expires_at).where(
                    pact_tokens.c.token_sha256 == _sha256(token.strip())
                )
            ).first()
        if row is None:
            raise Unauthorized("Invalid token provided", rule="PACT v3 BearerAuth: token issued by /auth/token")
        if row.expires_at <= self.clock.now():
            raise TokenExpired("the access token has expired", rule="PACT v3 BearerAuth: expires_in")
        return str(row.client_id)

    # ---- ListFootprints / GetFootprint ----------------------------------------------------------

    def _where(self, flt: FootprintFilter) -> list[ColumnElement[bool]]:
        t = pact_footprints
        conds: list[ColumnElement[bool]] = []
        for kind, values in flt.criteria():
            if values:
                sub = select(pact_footprint_keys.c.footprint_id).where(
                    and_(
                        pact_footprint_keys.c.kind == kind,
                        pact_footprint_keys.c.value.in_(sorted({v.lower() for v in values})),
                    )
                )
                conds.append(t.c.id.in_(sub))
        if flt.statuses:
            conds.append(func.lower(t.c.status).in_(sorted({s.lower() for s in flt.statuses})))
        if flt.valid_on is not None:
            conds.append(and_(t.c.valid_from <= flt.valid_on, t.c.valid_to >= flt.valid_on))
        if flt.valid_after is not None:
            conds.append(t.c.valid_from > flt.valid_after)
        if flt.valid_before is not None:
            conds.append(t.c.valid_to < flt.valid_before)
        return conds

    def list_footprints(self, flt: FootprintFilter, *, offset: int = 0, limit: int | None = None) -> FootprintPage:
        size = self.max_page_size if limit is None else max(0, min(limit, self.max_page_size))
        if offset < 0:
            raise InvalidInput(f"offset {offset} is negative", field="offset", rule="offset ≥ 0", value=str(offset))
        conds = self._where(flt)
        with self.engine.connect() as conn:
            total = int(conn.execute(select(func.count()).select_from(pact_footprints).where(*conds)).scalar_one())
            rows = (
                conn.execute(
                    select(pact_footprints.c.document)
                    .where(*conds)
                    .order_by(pact_footprints.c.seq)
                    .offset(offset)
                    .limit(size)
                )
                .scalars()
                .all()
            )
        return FootprintPage([dict(r) for r in rows], total, offset, size)

    def get_footprint(self, footprint_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            doc = conn.execute(
                select(pact_footprints.c.document).where(pact_footprints.c.id == footprint_id)
            ).scalar_one_or_none()
        if doc is None:
            raise NotFound(f"Footprint with ID '{footprint_id}' does not exist", rule="PACT v3 GetFootprint: 404")
        return dict(doc)

    # ---- Action Events ---------------------------------------------------------------------------

    def receive_event(self, event: Any, *, client_id: str | None) -> str | None:
        """Accept a PACT v3 CloudEvent. Returns the outbox id of the answer a RequestCreatedEvent
        leads to (``None`` for the other types, and for a replayed event)."""
        ev = _validated_event(event)
        key = f"pact-event:{ev['source']}:{ev['id']}"
        with UnitOfWork(self.engine) as uow:
            first, _ = remember_delivery(uow, key, sender=client_id)
            if not first:
                return None
            answer_id: str | None = None
            if ev["type"] == REQUEST_CREATED:
                flt = FootprintFilter.from_event_data(ev["data"])
                destination = events_endpoint(ev["source"])
                answer_id = enqueue(
                    uow,
                    kind=OUTBOX_KIND,
                    destination=destination,
                    body=self._answer(ev, flt),
                    headers={"Content-Type": CLOUDEVENTS_JSON},
                    idempotency_key=f"pact-answer:{key}",
                )
            elif ev["type"] in (REQUEST_FULFILLED, REQUEST_REJECTED):
                _close_request(uow, ev, at=self.clock.now())
            uow.conn.execute(
                insert(pact_events).values(
                    id=str(new_uuid7()),
                    event_id=ev["id"],
                    source=ev["source"],
                    type=ev["type"],
                    client_id=client_id,
                    body=ev,
                    answer_outbox_id=answer_id,
                    received_at=self.clock.now(),
                )
            )
            uow.commit()
        return answer_id

    def _answer(self, request: Mapping[str, Any], flt: FootprintFilter) -> dict[str, Any]:
        return answer_event(
            request, self._matching(flt), (REQUEST_FULFILLED, REQUEST_REJECTED), self.events_source, self.clock.now()
        )

    def _matching(self, flt: FootprintFilter) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(pact_footprints.c.document).where(*self._where(flt)).order_by(pact_footprints.c.seq)
                )
                .scalars()
                .all()
            )
        return [dict(r) for r in rows]

    def events_received(self, *, types: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Events this node received, oldest first (a requester reads its fulfilled footprints here)."""
        q = select(pact_events.c.body).order_by(pact_events.c.id)
        if types:
            q = q.where(pact_events.c.type.in_(list(types)))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).scalars().all()]

    # ---- the requesting side ---------------------------------------------------------------------

    def register_peer(
        self,
        base_url: str,
        *,
        client_id: str,
        client_secret: str,
        token_url: str | None = None,
        name: str | None = None,
    ) -> PactPeer:
        """Keep the OAuth2 client a partner gave this node for its PACT API at ``base_url``
        (replacing earlier credentials for it; a token obtained with those is dropped)."""
        old = find_peer(self.engine, base_url)
        peer = save_peer(
            self.engine,
            base_url,
            client_id=client_id,
            client_secret=client_secret,
            token_url=token_url,
            name=name,
            now=self.clock.now(),
        )
        if old is not None:
            self.tokens.forget(old)
        return peer

    def peers(self) -> list[PactPeer]:
        return list_peers(self.engine)

    def _client(self) -> httpx.Client:
        if self.client is None:
            raise ConfigurationError(
                "this PactService has no HTTP client, so it cannot call partners",
                rule="PactService(client=...) is given by the composition root",
            )
        return self.client

    def outbox_headers(self, row: Mapping[str, Any]) -> dict[str, str]:
        """The outbox dispatcher's ``sign_headers`` hook: ``Authorization: Bearer …`` for a
        ``pact.event`` row, obtained (or reused from the cache) from the token endpoint of the
        partner whose PACT base URL covers the row's destination. Other rows get nothing, and so
        does a destination with no partner credentials (the partner then refuses the event with
        401 and the row is final). Synchronous; it calls the partner when no cached token is
        valid. Raises :class:`UpstreamUnavailable` when the partner's token endpoint fails, so
        the row stays pending and is tried again."""
        if row.get("kind") != OUTBOX_KIND:
            return {}
        creds = find_peer(self.engine, str(row.get("destination", "")))
        if creds is None:
            return {}
        return {"Authorization": f"Bearer {self.tokens.token(creds, self._client())}"}

    def request_footprints(self, peer: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Send a RequestCreatedEvent with the criteria ``data`` to the partner at ``peer``.

        The request is recorded (status ``sending``) and committed before the event leaves, so
        an answer arriving at once finds it; the partner's refusal marks it ``failed`` and is
        raised. Returns the request as :meth:`requests` lists it."""
        creds = find_peer(self.engine, peer)
        if creds is None:
            raise NotFound(
                f"no PACT credentials for partner {peer!r}",
                rule="register them first with POST /v1/footprints/pact/peers",
            )
        criteria = _request_criteria(data)
        client = self._client()
        now = self.clock.now()
        event_id = str(new_uuid7())
        event = {
            "type": REQUEST_CREATED,
            "specversion": "1.0",
            "id": event_id,
            "source": self.events_source,
            "time": _iso(now),
            "data": criteria,
        }
        with UnitOfWork(self.engine) as uow:
            uow.conn.execute(
                insert(pact_requests).values(
                    event_id=event_id,
                    peer_base_url=creds.base_url,
                    criteria=criteria,
                    status="sending",
                    sent_at=now,
                )
            )
            uow.commit()
        try:
            resp = post_event(creds, event, client, self.tokens)
        except UpstreamUnavailable as exc:
            self._mark(event_id, "failed", exc.message, only_if="sending")
            raise
        if not 200 <= resp.status_code < 300:
            detail = f"HTTP {resp.status_code}: {resp.text[:500]}"
            self._mark(event_id, "failed", detail, only_if="sending")
            raise UpstreamUnavailable(
                f"partner {creds.base_url} refused the RequestCreatedEvent: {detail}",
                rule="PACT v3 Action Events: 200 when the request is accepted for processing",
            )
        self._mark(event_id, "sent", None, only_if="sending")
        return self.request(event_id)

    def _mark(self, event_id: str, status: str, detail: str | None, *, only_if: str) -> None:
        # guarded, so a fast answer that already closed the request is not overwritten
        with UnitOfWork(self.engine) as uow:
            uow.conn.execute(
                update(pact_requests)
                .where(and_(pact_requests.c.event_id == event_id, pact_requests.c.status == only_if))
                .values(status=status, detail=detail)
            )
            uow.commit()

    def request(self, event_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(pact_requests).where(pact_requests.c.event_id == event_id)).first()
        if row is None:
            raise NotFound(f"no PACT request {event_id!r} was sent from this node", rule="pact_requests")
        return _request_view(row)

    def requests(self) -> list[dict[str, Any]]:
        """RequestCreatedEvents this node sent, oldest first, with how each was answered."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(pact_requests).order_by(pact_requests.c.event_id)).all()
        return [_request_view(r) for r in rows]


#: RequestCreatedEvent.data properties (PACT v3 schema): the filters and a free-text comment
REQUEST_DATA_FIELDS = frozenset(
    {
        "productId",
        "companyId",
        "geography",
        "classification",
        "validOn",
        "validAfter",
        "validBefore",
        "status",
        "comment",
    }
)


def _request_criteria(data: Any) -> dict[str, Any]:
    """RequestCreatedEvent.data, checked as the receiving side reads it."""
    if not isinstance(data, Mapping):
        raise InvalidInput("data must be an object", field="data", rule="RequestCreatedEvent.data")
    unknown = sorted(set(data) - REQUEST_DATA_FIELDS)
    if unknown:
        raise InvalidInput(
            f"data.{unknown[0]} is not a RequestCreatedEvent criterion",
            field=f"data.{unknown[0]}",
            rule="RequestCreatedEvent.data: " + ", ".join(sorted(REQUEST_DATA_FIELDS)),
        )
    comment = data.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise InvalidInput("data.comment must be a string", field="data.comment", rule="RequestCreatedEvent.data")
    FootprintFilter.from_event_data(data)
    return dict(data)


def _request_view(row: Any) -> dict[str, Any]:
    return {
        "event_id": row.event_id,
        "peer": row.peer_base_url,
        "data": row.criteria,
        "status": row.status,
        "sent_at": _iso(row.sent_at),
        "answered_at": _iso(row.answered_at) if row.answered_at else None,
        "answer_event_id": row.answer_event_id,
        "detail": row.detail,
    }


def _close_request(uow: UnitOfWork, answer: Mapping[str, Any], *, at: dt.datetime) -> None:
    """A RequestFulfilled/RejectedEvent closes the request it names (if this node sent it), at ``at``."""
    data = answer["data"]
    fulfilled = answer["type"] == REQUEST_FULFILLED
    detail = None
    if not fulfilled:
        err = data.get("error") or {}
        detail = f"{err.get('code')}: {err.get('message')}"
    uow.conn.execute(
        update(pact_requests)
        .where(
            and_(
                pact_requests.c.event_id == str(data["requestEventId"]),
                pact_requests.c.status.in_(("sending", "sent", "failed")),
            )
        )
        .values(
            status="fulfilled" if fulfilled else "rejected",
            answered_at=at,
            answer_event_id=answer["id"],
            detail=detail,
        )
    )


def _validated_event(event: Any) -> dict[str, Any]:
    """CloudEvents 1.0 structured mode with the PACT ``BaseEvent`` required attributes."""
    if not isinstance(event, dict):
        raise InvalidInput("the event must be a JSON object", field="body", rule="CloudEvents structured content mode")
    for name in ("type", "specversion", "id", "source", "time"):
        if not isinstance(event.get(name), str) or not event[name]:
            raise InvalidInput(
                f"event attribute {name} is missing or empty", field=name, rule="PACT v3 BaseEvent.required"
            )
    if event["specversion"] != "1.0":
        raise InvalidInput(
            f"specversion {event['specversion']!r} is not 1.0",
            field="specversion",
            rule="CloudEvents 1.0",
            value=event["specversion"],
        )
    if event["type"] not in EVENT_TYPES:
        raise InvalidInput(
            f"event type {event['type']!r} is not a PACT v3 event",
            field="type",
            rule="one of RequestCreatedEvent.3, RequestFulfilledEvent.3, RequestRejectedEvent.3, PublishedEvent.3",
            value=event["type"],
        )
    _parse_time(event["time"], "time")
    data = event.get("data")
    if not isinstance(data, dict):
        raise InvalidInput("event data must be an object", field="data", rule="PACT v3 BaseEvent.data")
    if event["type"] in (REQUEST_FULFILLED, REQUEST_REJECTED) and not isinstance(data.get("requestEventId"), str):
        raise InvalidInput("data.requestEventId is required", field="data.requestEventId", rule=f"{event['type']}.data")
    if event["type"] == REQUEST_FULFILLED and not (isinstance(data.get("pfs"), list) and data["pfs"]):
        raise InvalidInput(
            "data.pfs must be a non-empty array", field="data.pfs", rule="RequestFulfilledEvent.data.pfs minItems 1"
        )
    if event["type"] == REQUEST_REJECTED and not isinstance(data.get("error"), dict):
        raise InvalidInput("data.error is required", field="data.error", rule="RequestRejectedEvent.data.error")
    if event["type"] == PUBLISHED:
        _check_pf_ids(data.get("pfIds"))
    return dict(event)


def _check_pf_ids(pf_ids: Any) -> None:
    """PublishedEvent ``data.pfIds``: ProductFootprint ids, which are UUIDs (PACT v3
    ``ProductFootprint.id`` format uuid); a product id there (``urn:gtin:…``) is a malformed event
    (the official tool's TC40)."""
    if pf_ids is None:
        return
    if not (isinstance(pf_ids, list) and all(isinstance(p, str) for p in pf_ids)):
        raise InvalidInput(
            "data.pfIds must be an array of strings", field="data.pfIds", rule="PublishedEvent.data.pfIds"
        )
    for value in pf_ids:
        try:
            canonical = str(uuid.UUID(value)) == value.lower()
        except ValueError:
            canonical = False
        if not canonical:
            raise InvalidInput(
                f"data.pfIds {value!r} is not a ProductFootprint id (a UUID)",
                field="data.pfIds",
                rule="PublishedEvent.data.pfIds: ProductFootprint.id format uuid",
                value=value,
            )
