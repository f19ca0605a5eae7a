"""The verifier: one entry point for ``vc+jwt`` and SD-JWT VC credentials, answering with the
chain of reasons — signature, issuer trust, recognition rule, status, expiry — or raising
:class:`CredentialRejected` with the failed check and the chain so far.

Verification is synchronous and does no I/O on the hot path: DID documents and status lists
come from caches; :meth:`Verifier.averify` fills them first (async, allow-listed HTTPS).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Mapping
from typing import Any

from batpass.core.clock import Clock, SystemClock
from batpass.trust._jose import peek
from batpass.trust._resolver import DidResolver
from batpass.trust._sdjwt import check_sd_jwt_times, verify_sd_jwt
from batpass.trust._status import StatusListCache
from batpass.trust._trustlist import TrustRegistry
from batpass.trust._vc import check_times, iso_read, read_time, verify_vc_jwt
from batpass.trust.errors import CredentialRejected
from batpass.trust.model import Check, RejectReason, Verification

__all__ = ["Verifier", "vct_type"]

_VCT_PREFIX = "https://batpass.dev/vct/"
_JWT_CLAIMS = {"iss", "iat", "nbf", "exp", "vct", "cnf", "status", "sub", "jti", "_sd_alg"}


def vct_type(vct: str) -> str:
    """The credential type a ``vct`` names (our URIs); foreign ``vct`` values stay as they are."""
    return vct[len(_VCT_PREFIX) :] if vct.startswith(_VCT_PREFIX) else vct


class Verifier:
    """Verifies credentials for one node: its resolver, trust registry and status cache, as of
    its clock's time unless a verification names another."""

    def __init__(
        self,
        resolver: DidResolver,
        registry: TrustRegistry,
        status: StatusListCache,
        *,
        clock: Clock = SystemClock(),
    ) -> None:
        self.resolver = resolver
        self.registry = registry
        self.status = status
        self.clock = clock
        #: issuer -> the signature check of its vc+jwt credentials (a frozen value, shared)
        self._signed: dict[str, Check] = {}

    @staticmethod
    def is_sd_jwt(token: str) -> bool:
        return "~" in token

    def verify(
        self,
        token: str,
        *,
        require_type: str | None = None,
        audience: str | None = None,
        nonce: str | None = None,
        require_key_binding: bool = False,
        now: dt.datetime | None = None,
        status_max_age_s: float | None = None,
        status_not_before: float | None = None,
    ) -> Verification:
        """``status_max_age_s`` refuses status lists cached longer ago than that (they are
        fetched again); ``status_not_before`` (a status-cache clock reading) accepts copies fetched
        at or after it — :meth:`averify` uses it for the copy it has just fetched."""
        now = now or self.clock.now()
        checks: list[Check] = []
        try:
            return self._verify(
                token,
                checks,
                require_type,
                audience,
                nonce,
                require_key_binding,
                now,
                status_max_age_s,
                status_not_before,
            )
        except CredentialRejected as exc:
            name = {
                RejectReason.REVOKED: "status",
                RejectReason.STATUS_UNAVAILABLE: "status",
                RejectReason.EXPIRED: "expiry",
                RejectReason.NOT_YET_VALID: "expiry",
                RejectReason.UNKNOWN_ISSUER: "issuer-trust",
                RejectReason.NOT_TRUSTED_FOR_TYPE: "issuer-trust",
                RejectReason.NOT_RECOGNISED: "recognition",
            }.get(RejectReason(exc.reason), "signature")
            chain = tuple(checks) + tuple(c for c in exc.checks if c not in checks) + (Check(name, False, str(exc)),)
            raise CredentialRejected(str(exc), reason=exc.reason, rule=exc.rule, checks=chain, **exc.details) from exc

    def _verify(
        self,
        token: str,
        checks: list[Check],
        require_type: str | None,
        audience: str | None,
        nonce: str | None,
        require_key_binding: bool,
        now: dt.datetime,
        status_max_age_s: float | None,
        status_not_before: float | None,
    ) -> Verification:
        holder: str | None
        if self.is_sd_jwt(token):
            sd = verify_sd_jwt(
                token,
                lambda kid, iss: self.resolver.method(kid, controller=iss, fetch=True),
                require_key_binding=require_key_binding,
                audience=audience,
                nonce=nonce,
                now=now,
                check_validity=False,
            )
            fmt, issuer = "dc+sd-jwt", sd.issuer
            claims: Mapping[str, Any] = sd.claims
            types = frozenset({vct_type(sd.vct)})
            subject = {k: v for k, v in claims.items() if k not in _JWT_CLAIMS}
            status = claims.get("status") if isinstance(claims.get("status"), dict) else None
            holder = claims.get("sub") if isinstance(claims.get("sub"), str) else None
            cid = claims.get("jti") if isinstance(claims.get("jti"), str) else None
            exp = claims.get("exp")
            valid_until = dt.datetime.fromtimestamp(exp, dt.UTC) if isinstance(exp, int) else None
            until = valid_until.isoformat() if valid_until else "no end"
            checks.append(Check("signature", True, f"SD-JWT VC signed by {issuer}; {len(subject)} claim(s) disclosed"))
            if sd.key_bound:
                checks.append(Check("key-binding", True, f"key binding for audience {sd.audience}"))
        else:
            _, vc = verify_vc_jwt(token, self.resolver, now=now, check_validity=False)
            fmt = "vc+jwt"
            issuer = vc["issuer"] if isinstance(vc["issuer"], str) else vc["issuer"]["id"]
            types = frozenset(t for t in vc.get("type", []) if t != "VerifiableCredential")
            subject = vc.get("credentialSubject", {})
            if not isinstance(subject, dict):
                raise CredentialRejected("credentialSubject must be one object", reason=RejectReason.SCHEMA)
            status = vc.get("credentialStatus") if isinstance(vc.get("credentialStatus"), dict) else None
            holder = subject.get("id") if isinstance(subject.get("id"), str) else None
            cid = vc.get("id")
            valid_until = read_time(vc, "validUntil")
            until = iso_read(valid_until, vc.get("validUntil")) if valid_until else "no end"
            claims = vc
            checks.append(self._signed_check(issuer))
            if require_key_binding:
                raise CredentialRejected("a bare vc+jwt carries no key binding", reason=RejectReason.KEY_BINDING)

        accepted, trust_checks = self.registry.evaluate(issuer, types, subject, now)
        checks.extend(trust_checks)
        if require_type is not None and require_type not in accepted:
            raise CredentialRejected(
                f"credential counts as {', '.join(sorted(accepted))}, not as the required {require_type}",
                reason=RejectReason.NOT_TRUSTED_FOR_TYPE,
                rule="the verifier's required credential type",
            )
        if status is not None:
            not_before = None if status_max_age_s is None else self.status.now() - status_max_age_s
            if status_not_before is not None:
                not_before = status_not_before if not_before is None else max(not_before, status_not_before)
            detail = self.status.check(status, issuer=issuer, not_before=not_before)
            checks.append(Check("status", True, detail))
        else:
            checks.append(Check("status", True, "no status entry (not revocable)"))
        if fmt == "vc+jwt":
            check_times(claims, now, what="credential", valid_until=valid_until)
        else:
            check_sd_jwt_times(claims, int(now.timestamp()))
        checks.append(Check("expiry", True, f"valid now; until {until}"))
        return Verification(
            format=fmt,
            issuer=issuer,
            types=types,
            subject=subject,
            checks=tuple(checks),
            accepted_as=accepted,
            holder=holder,
            valid_until=valid_until,
            credential_id=cid if isinstance(cid, str) else None,
        )

    def _signed_check(self, issuer: str) -> Check:
        check = self._signed.get(issuer)
        if check is None:
            if len(self._signed) >= 1024:
                self._signed.clear()
            check = self._signed[issuer] = Check(
                "signature", True, f"vc+jwt signed by {issuer} and valid against its schema"
            )
        return check

    async def prefetch(self, token: str, *, status_not_before: float | None = None) -> None:
        """Fill the caches a token needs (issuer DID, status list); errors surface in verify."""
        try:
            header, payload = peek(token.split("~", 1)[0])
        except CredentialRejected:
            return
        issuer = payload.get("iss") or payload.get("issuer")
        if isinstance(issuer, dict):
            issuer = issuer.get("id")
        status = payload.get("credentialStatus") or payload.get("status")
        url = None
        if isinstance(status, dict) and isinstance(status.get("statusListCredential"), str):
            url = status["statusListCredential"]
        elif isinstance(status, dict) and isinstance(status.get("status_list"), dict):
            url = status["status_list"].get("uri")  # a Token Status List reference
        kid = header.get("kid")
        if not isinstance(issuer, str) or not isinstance(url, str) or self.resolver.cached(issuer) is not None:
            with contextlib.suppress(CredentialRejected):  # nothing to wait for side by side
                if isinstance(issuer, str):  # a key the cached document lacks fetches it again
                    await self.resolver.resolve(issuer, kid=kid)
                if isinstance(url, str):
                    await self.status.prefetch(url, status_not_before)
            return
        # the issuer's DID not kept: it and the status list are fetched side by side (the list's
        # check awaits the issuer's document, sharing this resolution, before verifying the list)
        outcomes = await asyncio.gather(
            self.resolver.resolve(issuer, kid=kid), self.status.prefetch(url, status_not_before), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, CredentialRejected):
                raise outcome  # a refusal surfaces in verify; anything else is not one

    async def averify(self, token: str, *, status_max_age_s: float | None = None, **kw: Any) -> Verification:
        """Prefetch (async) what ``token`` needs, then verify. With ``status_max_age_s`` the
        status list is fetched again unless younger than that; the check then accepts the copy
        fetched here (its age bound grows by the time the prefetch took) and nothing older."""
        not_before = None if status_max_age_s is None else self.status.now() - status_max_age_s
        await self.prefetch(token, status_not_before=not_before)
        return self.verify(token, status_not_before=not_before, **kw)
