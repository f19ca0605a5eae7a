"""The requesting side of PACT v3 between nodes: partners' credentials, access tokens, events sent.

A partner whose PACT API this node calls gives this node an OAuth2 client (id and secret); the
node keeps them per partner PACT base URL (``pact_peers``) and obtains access tokens from the
partner's ``<base URL>/auth/token`` with the client credentials grant (RFC 6749 section 4.4;
PACT v3 "Authentication flow": HTTP Basic with the form-urlencoded id and secret, section 2.3.1).
Tokens are cached in memory until shortly before ``expires_in`` runs out and are fetched **when a
message is sent**, never stored with it: an outbox row may wait for hours of retries, longer than
a token lives.

Source: PACT Technical Specifications v3 (bundled ``_data/pact-openapi-3.0.4.yaml``): Action
Events (``POST <base URL>/3/events``, CloudEvents structured mode) and ``BearerAuth``. This module
knows nothing of the served side (:mod:`.service` owns that) and nothing of the node.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from sqlalchemy import Engine, insert, select, update

from batpass.core.clock import utc_now
from batpass.core.errors import InvalidInput, UpstreamUnavailable
from batpass.footprint._sql import pact_peers
from batpass.store import UnitOfWork

__all__ = [
    "CLOUDEVENTS_JSON",
    "PactPeer",
    "PeerCredentials",
    "TokenCache",
    "find_peer",
    "list_peers",
    "normalise_base_url",
    "post_event",
    "save_peer",
]

CLOUDEVENTS_JSON = "application/cloudevents+json; charset=UTF-8"
#: a token is renewed this long before it expires (at most a tenth of its life), so a request
#: never leaves with a token that lapses on the way
RENEW_MARGIN_S = 30.0
#: RFC 6749 section 5.1 makes ``expires_in`` only RECOMMENDED: without it, reuse a token this long
DEFAULT_TOKEN_LIFE_S = 300.0


def normalise_base_url(url: str, *, field_name: str = "base_url") -> str:
    """A partner's PACT base URL as stored and compared: HTTPS (PACT v3 requires it), lower-case
    host, no default port, no trailing slash, no query or fragment."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise InvalidInput(
            f"{field_name} {url!r} is not an HTTPS URL",
            field=field_name,
            rule="PACT v3: every API call, token requests included, uses HTTPS",
            value=url,
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise InvalidInput(
            f"{field_name} {url!r} carries a query, fragment or user info",
            field=field_name,
            rule="a PACT base URL is scheme, host, port and path",
            value=url,
        )
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    netloc = host if port in (None, 443) else f"{host}:{port}"
    return f"https://{netloc}{parts.path.rstrip('/')}"


@dataclass(frozen=True, slots=True)
class PeerCredentials:
    """The OAuth2 client a partner gave this node for its PACT API (the secret never leaves the
    node except to the partner's token endpoint)."""

    base_url: str
    token_url: str
    client_id: str
    client_secret: str = field(repr=False)

    @property
    def events_url(self) -> str:
        return f"{self.base_url}/3/events"


@dataclass(frozen=True, slots=True)
class PactPeer:
    """What the admin API shows of a partner: everything but the secret."""

    base_url: str
    token_url: str
    client_id: str
    name: str | None
    updated_at: dt.datetime

    def public(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "token_url": self.token_url,
            "client_id": self.client_id,
            "name": self.name,
            "updated_at": self.updated_at.isoformat(),
        }


def save_peer(
    engine: Engine,
    base_url: str,
    *,
    client_id: str,
    client_secret: str,
    token_url: str | None = None,
    name: str | None = None,
    now: dt.datetime | None = None,
) -> PactPeer:
    """Store (or replace) the credentials for the partner at ``base_url`` (as of ``now``)."""
    base = normalise_base_url(base_url)
    token = normalise_base_url(token_url, field_name="token_url") if token_url else f"{base}/auth/token"
    if not client_id.strip():
        raise InvalidInput("client_id is empty", field="client_id", rule="RFC 6749 section 2.2: a client identifier")
    if not client_secret:
        raise InvalidInput("client_secret is empty", field="client_secret", rule="RFC 6749 section 2.3.1")
    now = now or utc_now()
    values = {
        "token_url": token,
        "client_id": client_id,
        "client_secret": client_secret,
        "name": name,
        "updated_at": now,
    }
    with UnitOfWork(engine) as uow:
        exists = uow.conn.execute(select(pact_peers.c.base_url).where(pact_peers.c.base_url == base)).first()
        if exists:
            uow.conn.execute(update(pact_peers).where(pact_peers.c.base_url == base).values(**values))
        else:
            uow.conn.execute(insert(pact_peers).values(base_url=base, created_at=now, **values))
        uow.commit()
    return PactPeer(base, token, client_id, name, now)


def list_peers(engine: Engine) -> list[PactPeer]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                pact_peers.c.base_url,
                pact_peers.c.token_url,
                pact_peers.c.client_id,
                pact_peers.c.name,
                pact_peers.c.updated_at,
            ).order_by(pact_peers.c.base_url)
        ).all()
    return [PactPeer(r.base_url, r.token_url, r.client_id, r.name, r.updated_at) for r in rows]


def find_peer(engine: Engine, url: str) -> PeerCredentials | None:
    """The credentials for the partner whose base URL is the longest prefix of ``url`` (an
    events endpoint, or the base URL itself); ``None`` when no partner's URL covers it."""
    try:
        target = normalise_base_url(url, field_name="url")
    except InvalidInput:
        return None
    with engine.connect() as conn:
        rows = conn.execute(select(pact_peers)).all()
    best: PeerCredentials | None = None
    for r in rows:
        base = str(r.base_url)
        if (target == base or target.startswith(base + "/")) and (best is None or len(base) > len(best.base_url)):
            best = PeerCredentials(base, str(r.token_url), str(r.client_id), str(r.client_secret))
    return best


@dataclass(slots=True)
class _Cached:
    token: str
    renew_at: float  # time.monotonic() after which a new token is fetched


class TokenCache:
    """Access tokens per (token endpoint, client id), thread-safe, renewed before they expire.

    One lock per key, so a slow partner delays only requests to that partner; a token is fetched
    once however many sends wait for it."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[tuple[str, str], _Cached] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()
        self.fetched = 0

    def _lock(self, key: tuple[str, str]) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def token(self, creds: PeerCredentials, client: httpx.Client) -> str:
        key = (creds.token_url, creds.client_id)
        with self._lock(key):
            cached = self._tokens.get(key)
            if cached is not None and self._clock() < cached.renew_at:
                return cached.token
            token, life = fetch_token(creds, client)
            self._tokens[key] = _Cached(token, self._clock() + max(0.0, life - min(RENEW_MARGIN_S, life / 10)))
            self.fetched += 1
            return token

    def forget(self, creds: PeerCredentials) -> None:
        """Drop a token the partner refused (its credentials were replaced, or it revoked it)."""
        with self._guard:
            self._tokens.pop((creds.token_url, creds.client_id), None)


def fetch_token(creds: PeerCredentials, client: httpx.Client) -> tuple[str, float]:
    """``(access_token, lifetime in seconds)`` from the partner's token endpoint."""
    # RFC 6749 section 2.3.1: id and secret are form-urlencoded, then HTTP Basic (RFC 7617)
    basic = base64.b64encode(f"{quote(creds.client_id, safe='')}:{quote(creds.client_secret, safe='')}".encode())
    headers = {"Authorization": f"Basic {basic.decode()}", "Accept": "application/json"}
    try:
        resp = client.post(creds.token_url, data={"grant_type": "client_credentials"}, headers=headers)
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable(
            f"PACT token endpoint {creds.token_url} unreachable: {type(exc).__name__}: {exc}",
            rule="PACT v3 authentication flow",
        ) from exc
    try:
        body = resp.json()
    except ValueError:
        body = None
    if resp.status_code != 200 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        raise UpstreamUnavailable(
            f"PACT token endpoint {creds.token_url} refused client {creds.client_id!r}: "
            f"HTTP {resp.status_code} {error or resp.text[:200]!r}",
            rule="RFC 6749 section 5.2",
        )
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise UpstreamUnavailable(
            f"PACT token endpoint {creds.token_url} answered without access_token", rule="RFC 6749 section 5.1"
        )
    if str(body.get("token_type", "Bearer")).lower() != "bearer":
        raise UpstreamUnavailable(
            f"PACT token endpoint {creds.token_url} issued a {body.get('token_type')!r} token, not Bearer",
            rule="PACT v3 BearerAuth",
        )
    life = body.get("expires_in")
    seconds = float(life) if isinstance(life, (int, float)) and not isinstance(life, bool) and life > 0 else None
    return token, DEFAULT_TOKEN_LIFE_S if seconds is None else seconds


def post_event(
    creds: PeerCredentials, event: Mapping[str, Any], client: httpx.Client, tokens: TokenCache
) -> httpx.Response:
    """POST a CloudEvent to the partner's Action Events with a bearer token; one retry with a
    fresh token when the partner answers 401 (a cached token it no longer honours)."""
    for attempt in (1, 2):
        headers = {"Content-Type": CLOUDEVENTS_JSON, "Authorization": f"Bearer {tokens.token(creds, client)}"}
        try:
            resp = client.post(creds.events_url, content=json.dumps(dict(event)).encode(), headers=headers)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(
                f"PACT events endpoint {creds.events_url} unreachable: {type(exc).__name__}: {exc}",
                rule="PACT v3 Action Events",
            ) from exc
        if resp.status_code == 401 and attempt == 1:
            tokens.forget(creds)
            continue
        return resp
    raise AssertionError("unreachable")  # pragma: no cover
