"""What the console's people are: users with a role (viewer < operator < admin), optionally scoped
to one hosted operator on a hub; their sign-in sessions; and the audit log's entries.

Pure data: no SQL, no HTTP.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass

from batpass.core.errors import InvalidInput

__all__ = [
    "MIN_PASSWORD",
    "AlertState",
    "AuditEntry",
    "Role",
    "Session",
    "User",
    "check_name",
    "check_password",
]

#: a user name: letters, digits and ``.-_@``, 1 to 64 characters (an e-mail address fits)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
#: the shortest password taken (NIST SP 800-63B 5.1.1.2: at least 8; we ask 12)
MIN_PASSWORD = 12
_MAX_PASSWORD = 1024


class Role(enum.StrEnum):
    """What a user may do on the console; each role includes the ones below it."""

    VIEWER = "viewer"  # reads
    OPERATOR = "operator"  # lifecycle actions, alerts, partner views
    ADMIN = "admin"  # users, keys, trust lists, recognition rules, releases

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls(value)
        except ValueError:
            raise InvalidInput(
                f"role: '{value}' is not one of viewer, operator, admin",
                field="role",
                rule="a console role is viewer, operator or admin",
                value=value,
            ) from None


_RANKS = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


class AlertState(enum.StrEnum):
    """Where an alert stands for the people who handle it (an alert without a state is open)."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            f"name: '{name}' is not a user name",
            field="name",
            rule="1 to 64 characters: letters, digits and . _ @ -, starting with a letter or digit",
            value=name,
        )
    return name


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= _MAX_PASSWORD:
        raise InvalidInput(
            f"password: {len(password)} characters; a password has {MIN_PASSWORD} to {_MAX_PASSWORD}",
            field="password",
            rule=f"at least {MIN_PASSWORD} characters (NIST SP 800-63B 5.1.1.2)",
        )
    return password


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    #: on a hub, the hosted operator this user acts for (``None``: the node's own operator)
    operator: str | None
    created_at: dt.datetime

    def to_json(self) -> dict[str, str | None]:
        return {
            "name": self.name,
            "role": self.role.value,
            "operator": self.operator,
            "createdAt": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in user's session (its id is known only to the browser; the store keeps a hash)."""

    user: User
    csrf: str
    created_at: dt.datetime
    expires_at: dt.datetime
    last_seen: dt.datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: dt.datetime
    user: str | None
    action: str
    target: str
    outcome: str
    note: str = ""

    def to_json(self) -> dict[str, str | None]:
        return {
            "at": self.at.isoformat(),
            "user": self.user,
            "action": self.action,
            "target": self.target,
            "outcome": self.outcome,
            "note": self.note,
        }
