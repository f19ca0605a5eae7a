"""People on a node: console users with roles (viewer, operator, admin; on a hub optionally
scoped to one hosted operator), Argon2id password hashes, sign-in sessions with CSRF tokens, an
append-only audit log, and where each ledger alert stands (docs/console.md)."""

from pathlib import Path

from batpass.accounts.model import MIN_PASSWORD, AlertState, AuditEntry, Role, Session, User
from batpass.accounts.service import FAILURE_WINDOW, MAX_FAILURES, AccountService, SignInRefused

MIGRATIONS_DIR = Path(__file__).resolve().parent / "_migrations"

__all__ = [
    "FAILURE_WINDOW",
    "MAX_FAILURES",
    "MIGRATIONS_DIR",
    "MIN_PASSWORD",
    "AccountService",
    "AlertState",
    "AuditEntry",
    "Role",
    "Session",
    "SignInRefused",
    "User",
]
