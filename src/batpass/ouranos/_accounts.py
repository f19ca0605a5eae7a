"""Who may call the hub: operators' logins (``/auth/login``, ``/auth/refresh``, ``/auth/change``),
the hub's access and refresh tokens and its API keys.

Rules (the published API's ``authentication`` models and the platform's authentication system as
its clients show it): every call carries an API key the hub issued (stored as its SHA-256; one
bound to an operator serves only that operator's accounts); access tokens last 1 h, refresh
tokens 30 days, both signed by the hub's node identity; a password change invalidates earlier
tokens; 5 failed logins lock the account for 5 minutes. Passwords are stored as scrypt hashes.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from batpass.core.errors import Conflict, InvalidInput, NotFound
from batpass.ouranos._context import HubComponent, Principal, new_id, operator_or_404, sha256_hex
from batpass.ouranos._sql import OuranosStore
from batpass.ouranos.errors import ApiKeyRejected, InvalidToken
from batpass.ouranos.model import check_password
from batpass.store import UnitOfWork

ACCESS_TTL_S = 3600
REFRESH_TTL_S = 30 * 24 * 3600
LOCKOUT_AFTER = 5
LOCKOUT_S = 300
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_TOKEN_ALG = "Ed25519"


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


class Accounts(HubComponent):
    """Operators' accounts, the hub's tokens and its API keys: who a call comes from."""

    # ---------------------------------------------------------------- admin: accounts and keys

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
            store = self.store(uow)
            operator_or_404(store, operator_id)
            row = store.account(account_id)
            if row is not None and row["operator_id"] != operator_id:
                raise Conflict(f"account {account_id} belongs to another operator", rule="one operator per account")
            store.upsert_account(account_id, operator_id, hash_password(password))
            uow.commit()

    def issue_api_key(self, *, operator_id: str | None = None, label: str = "application") -> tuple[str, str]:
        """A new API key (returned once; stored as its SHA-256). ``operator_id=None`` makes an
        application key any hosted operator's tokens may use, as the platform's per-application keys."""
        secret = "ok_" + secrets.token_urlsafe(32)
        key_id = new_id()
        with UnitOfWork(self.engine) as uow:
            store = self.store(uow)
            if operator_id is not None:
                operator_or_404(store, operator_id)
            store.insert_api_key(key_id, operator_id, sha256_hex(secret), label)
            uow.commit()
        return key_id, secret

    def revoke_api_key(self, key_id: str) -> None:
        with UnitOfWork(self.engine) as uow:
            if not self.store(uow).revoke_api_key(key_id):
                raise NotFound(f"no API key {key_id}", rule="revoke an issued key")
            uow.commit()

    # ---------------------------------------------------------------- tokens

    def _check_api_key(self, store: OuranosStore, api_key: str | None) -> str | None:
        if not api_key:
            raise ApiKeyRejected("You do not have the necessary privileges", rule="apiKey header is required")
        row = store.api_key(sha256_hex(api_key))
        if row is None:
            raise ApiKeyRejected("Invalid key", rule="apiKey must be a key issued by this hub")
        bound: str | None = row["operator_id"]
        return bound

    def _sign(self, claims: dict[str, Any]) -> str:
        identity = self.context.identity
        key = identity.active("Ed25519")
        header = {"alg": _TOKEN_ALG, "typ": "JWT", "kid": identity.key_id(key)}
        return jwt.encode(header, claims, key.jwk, algorithms=[_TOKEN_ALG])

    def _tokens(self, account_id: str, operator_id: str, *, refresh: bool) -> tuple[str, str | None]:
        now = int(self.now().timestamp())
        base = {"iss": self.context.identity.did, "sub": account_id, "operator_id": operator_id, "iat": now}
        access = self._sign({**base, "token_use": "access", "exp": now + ACCESS_TTL_S, "jti": new_id()})
        ref = (
            self._sign({**base, "token_use": "refresh", "exp": now + REFRESH_TTL_S, "jti": new_id()})
            if refresh
            else None
        )
        return access, ref

    def _verify(self, token: str, use: str) -> dict[str, Any]:
        identity = self.context.identity
        key = identity.active("Ed25519")
        try:
            claims = dict(jwt.decode(token, key.jwk, algorithms=[_TOKEN_ALG]).claims)
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidToken("Invalid or expired token", rule="a token this hub issued") from exc
        if claims.get("token_use") != use or claims.get("iss") != identity.did:
            raise InvalidToken("Invalid or expired token", rule=f"an {use} token of this hub")
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp < int(self.now().timestamp()):
            raise InvalidToken("Invalid or expired token", rule="the token has expired")
        return claims

    # ---------------------------------------------------------------- /auth

    def login(self, account_id: str, password: str, *, api_key: str | None) -> tuple[str, str]:
        """``POST /auth/login``: tokens for an account; locks the account briefly after
        repeated failures (as the platform's authentication system does)."""
        with UnitOfWork(self.engine) as uow:
            store = self.store(uow)
            bound = self._check_api_key(store, api_key)
            row = store.account(account_id)
            now = self.now()
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
            store = self.store(uow)
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
            store = self.store(uow)
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
            self.store(uow).upsert_account(who.account_id, who.operator_id, hash_password(new_password))
            uow.commit()
