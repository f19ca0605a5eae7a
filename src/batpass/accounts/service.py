"""Use cases of the console's accounts: add, list and remove users; sign in and out; look up a
session (absolute expiry and idle timeout); the audit log; where each alert stands.

Passwords are hashed with Argon2id (``argon2-cffi``'s defaults, RFC 9106's second recommended
option: 64 MiB, 3 passes, 4 lanes). Sign-in costs one hash check whether the user exists or not
(an unknown name is checked against a dummy hash), so its timing tells nothing about which names
exist; after :data:`MAX_FAILURES` failed sign-ins of one name within :data:`FAILURE_WINDOW` the
name is refused until the window has passed, counted from the audit log (shared by every worker).

A session id is 32 random bytes (``secrets``) known only to the browser; the store keeps its
SHA-256. Each session carries its own CSRF token, compared in constant time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, func, insert, select, update

from batpass.accounts import _sql
from batpass.accounts.model import AlertState, AuditEntry, Role, Session, User, check_name, check_password
from batpass.core.clock import Clock, SystemClock
from batpass.core.errors import Conflict, InvalidInput, NotFound, Unauthorized
from batpass.core.ids import new_uuid7
from batpass.store import UnitOfWork

__all__ = ["FAILURE_WINDOW", "MAX_FAILURES", "AccountService", "SignInRefused"]

#: failed sign-ins of one name within the window before the name is refused for the window
MAX_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(minutes=15)
#: a session's absolute lifetime and its idle timeout
SESSION_LIFETIME = dt.timedelta(hours=8)
IDLE_TIMEOUT = dt.timedelta(minutes=30)
#: how stale ``last_seen`` may get before a request writes it again (fewer writes per page)
_TOUCH_EVERY = dt.timedelta(seconds=60)


class SignInRefused(Unauthorized):
    """A wrong name or password, or a name refused after too many failures (``locked``)."""

    def __init__(self, message: str, *, locked: bool = False) -> None:
        super().__init__(message, rule="console sign-in (docs/console.md)")
        self.locked = locked


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccountService:
    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock = SystemClock(),
        hasher: PasswordHasher | None = None,
        lifetime: dt.timedelta = SESSION_LIFETIME,
        idle: dt.timedelta = IDLE_TIMEOUT,
    ) -> None:
        self.engine = engine
        self._clock = clock
        self._hasher = hasher or PasswordHasher()
        self._lifetime = lifetime
        self._idle = idle
        self._dummy: str | None = None

    # --- users ---------------------------------------------------------------------------------

    def add_user(self, name: str, role: Role | str, password: str, *, operator: str | None = None) -> User:
        """Store a new user (the name must be free); the password is kept only as its hash."""
        check_name(name)
        check_password(password)
        role = role if isinstance(role, Role) else Role.parse(role)
        if operator is not None and not operator.strip():
            raise InvalidInput("operator: empty", field="operator", rule="a hosted operator's id")
        hashed = self._hasher.hash(password)
        user = User(name=name, role=role, operator=operator, created_at=self._clock.now())
        with UnitOfWork(self.engine) as uow:
            t = _sql.users
            if uow.conn.execute(select(t.c.name).where(t.c.name == name)).first() is not None:
                raise Conflict(f"name: a user '{name}' exists already", rule="user names are unique", field="name")
            uow.conn.execute(
                insert(t).values(
                    name=name, role=role.value, operator=operator, password_hash=hashed, created_at=user.created_at
                )
            )
            self._audit(uow, None, "user.add", name, "ok", note=role.value)
            uow.commit()
        return user

    def users(self) -> list[User]:
        with UnitOfWork(self.engine, write=False) as uow:
            rows = uow.conn.execute(select(_sql.users).order_by(_sql.users.c.name)).all()
        return [_user(r) for r in rows]

    def user(self, name: str) -> User:
        with UnitOfWork(self.engine, write=False) as uow:
            row = uow.conn.execute(select(_sql.users).where(_sql.users.c.name == name)).first()
        if row is None:
            raise NotFound(f"name: no user '{name}' on this node", rule="users are added first")
        return _user(row)

    def remove_user(self, name: str) -> None:
        """Remove a user and end their sessions (the audit log keeps their entries)."""
        with UnitOfWork(self.engine) as uow:
            gone = uow.conn.execute(delete(_sql.users).where(_sql.users.c.name == name)).rowcount
            if not gone:
                raise NotFound(f"name: no user '{name}' on this node", rule="users are added first")
            uow.conn.execute(delete(_sql.sessions).where(_sql.sessions.c.user_name == name))
            self._audit(uow, None, "user.remove", name, "ok")
            uow.commit()

    # --- sign-in and sessions --------------------------------------------------------------------

    def sign_in(self, name: str, password: str) -> tuple[str, Session]:
        """A new session for ``name`` (its id, to set in the browser's cookie, and the session);
        :class:`SignInRefused` for a wrong name or password or a locked name. Every attempt is
        written to the audit log."""
        now = self._clock.now()
        with UnitOfWork(self.engine, write=False) as uow:
            row = uow.conn.execute(select(_sql.users).where(_sql.users.c.name == name)).first()
            failures = self._recent_failures(uow, name, now)
        stored = row.password_hash if row is not None else self._dummy_hash()
        ok = self._verify(stored, password) and row is not None
        if failures >= MAX_FAILURES:
            self.record(None, "sign-in", name, "locked")
            raise SignInRefused("too many failed sign-ins for this name; try again later", locked=True)
        if not ok or row is None:
            self.record(None, "sign-in", name, "refused")
            raise SignInRefused("wrong user name or password")
        token = secrets.token_urlsafe(32)
        session = Session(
            user=_user(row),
            csrf=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + self._lifetime,
            last_seen=now,
        )
        with UnitOfWork(self.engine) as uow:
            uow.conn.execute(
                insert(_sql.sessions).values(
                    id_sha256=_sha256(token),
                    user_name=name,
                    csrf=session.csrf,
                    created_at=now,
                    last_seen=now,
                    expires_at=session.expires_at,
                )
            )
            self._audit(uow, name, "sign-in", name, "ok")
            uow.commit()
        return token, session

    def session(self, token: str | None) -> Session | None:
        """The live session of ``token``; ``None`` when there is none, or it expired or sat idle
        too long (such a session is deleted)."""
        if not token:
            return None
        key, now = _sha256(token), self._clock.now()
        with UnitOfWork(self.engine, write=False) as uow:
            row = uow.conn.execute(
                select(_sql.sessions, _sql.users)
                .join(_sql.users, _sql.users.c.name == _sql.sessions.c.user_name)
                .where(_sql.sessions.c.id_sha256 == key)
            ).first()
        if row is None:
            return None
        if now >= row.expires_at or now - row.last_seen >= self._idle:
            with UnitOfWork(self.engine) as uow:
                uow.conn.execute(delete(_sql.sessions).where(_sql.sessions.c.id_sha256 == key))
                uow.commit()
            return None
        if now - row.last_seen >= _TOUCH_EVERY:
            with UnitOfWork(self.engine) as uow:
                uow.conn.execute(update(_sql.sessions).where(_sql.sessions.c.id_sha256 == key).values(last_seen=now))
                uow.commit()
        return Session(
            user=_user(row), csrf=row.csrf, created_at=row.created_at, expires_at=row.expires_at, last_seen=now
        )

    def sign_out(self, token: str | None) -> None:
        session = self.session(token)
        if token is None or session is None:
            return
        with UnitOfWork(self.engine) as uow:
            uow.conn.execute(delete(_sql.sessions).where(_sql.sessions.c.id_sha256 == _sha256(token)))
            self._audit(uow, session.user.name, "sign-out", session.user.name, "ok")
            uow.commit()

    @staticmethod
    def csrf_ok(session: Session, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(session.csrf.encode(), (presented or "").encode())

    # --- the audit log ---------------------------------------------------------------------------

    def record(self, user: str | None, action: str, target: str, outcome: str, *, note: str = "") -> None:
        """Append one entry to the audit log."""
        with UnitOfWork(self.engine) as uow:
            self._audit(uow, user, action, target, outcome, note=note)
            uow.commit()

    def audit_log(self, *, limit: int = 50, user: str | None = None) -> list[AuditEntry]:
        """The newest entries first."""
        q = select(_sql.audit).order_by(_sql.audit.c.id.desc()).limit(limit)
        if user is not None:
            q = q.where(_sql.audit.c.user_name == user)
        with UnitOfWork(self.engine, write=False) as uow:
            rows = uow.conn.execute(q).all()
        return [AuditEntry(r.at, r.user_name, r.action, r.target, r.outcome, r.note) for r in rows]

    # --- alerts ----------------------------------------------------------------------------------

    def alert_states(self, alerts: Iterable[str] | None = None) -> dict[str, tuple[AlertState, str, str, dt.datetime]]:
        """Where each alert stands: (state, note, user, when); an alert not listed is open."""
        q = select(_sql.alert_states)
        if alerts is not None:
            q = q.where(_sql.alert_states.c.alert.in_(list(alerts)))
        with UnitOfWork(self.engine, write=False) as uow:
            rows = uow.conn.execute(q).all()
        return {r.alert: (AlertState(r.state), r.note, r.user_name, r.at) for r in rows}

    def set_alert_state(self, user: str, alert: str, state: AlertState, note: str) -> None:
        """Acknowledge or resolve ``alert`` with a note (written to the audit log)."""
        if state is AlertState.OPEN:
            raise InvalidInput("state: an alert is acknowledged or resolved", field="state", rule="alert states")
        if len(note) > 2000:
            raise InvalidInput(
                "note: more than 2000 characters", field="note", rule="a note of at most 2000 characters"
            )
        now, t = self._clock.now(), _sql.alert_states
        with UnitOfWork(self.engine) as uow:
            current = uow.conn.execute(select(t.c.state).where(t.c.alert == alert)).first()
            if current is not None and current.state == AlertState.RESOLVED.value:
                raise Conflict(f"alert {alert} is resolved already", rule="a resolved alert stays resolved")
            values = {"state": state.value, "note": note, "user_name": user, "at": now}
            if current is None:
                uow.conn.execute(insert(t).values(alert=alert, **values))
            else:
                uow.conn.execute(update(t).where(t.c.alert == alert).values(**values))
            self._audit(uow, user, f"alert.{state.value}", alert, "ok", note=note)
            uow.commit()

    # --- internals -------------------------------------------------------------------------------

    def _audit(
        self, uow: UnitOfWork, user: str | None, action: str, target: str, outcome: str, *, note: str = ""
    ) -> None:
        uow.conn.execute(
            insert(_sql.audit).values(
                id=str(new_uuid7()),
                at=self._clock.now(),
                user_name=user,
                action=action,
                target=target,
                outcome=outcome,
                note=note,
            )
        )

    def _recent_failures(self, uow: UnitOfWork, name: str, now: dt.datetime) -> int:
        t = _sql.audit
        q = select(func.count()).where(
            t.c.action == "sign-in",
            t.c.target == name,
            t.c.outcome.in_(("refused", "locked")),
            t.c.at > now - FAILURE_WINDOW,
        )
        last_ok = uow.conn.execute(
            select(func.max(t.c.at)).where(t.c.action == "sign-in", t.c.target == name, t.c.outcome == "ok")
        ).scalar()
        if last_ok is not None:
            q = q.where(t.c.at > last_ok)
        return int(uow.conn.execute(q).scalar() or 0)

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
        return self._dummy


def _user(row: object) -> User:
    return User(
        name=row.name,  # type: ignore[attr-defined]
        role=Role(row.role),  # type: ignore[attr-defined]
        operator=row.operator,  # type: ignore[attr-defined]
        created_at=row.created_at,  # type: ignore[attr-defined]
    )
