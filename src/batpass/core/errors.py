"""The one error tree of batpass.

Every capability raises these; adapters re-raise foreign exceptions as one of them (``from exc``).
Each edge translates them into its own shape: problem details (RFC 9457) on ``/v1``, the Ouranos
``{code, message, detail}`` body, PACT ``{code, message}``, DSP error messages, AAS registry result
messages, the EDC management error array, and exit code 2 on the CLI.

This module must not know HTTP frameworks or storage; it only carries data.
"""

from __future__ import annotations

from typing import Any


class BatpassError(Exception):
    """Root of all errors batpass raises on purpose.

    ``rule`` names the rule broken, with its source where there is one (an article, a spec
    section, an API field limit), so a user can look it up.
    """

    #: short machine-readable kind, used as the problem-details ``type`` suffix
    kind: str = "error"
    #: HTTP status the error maps to at the edges
    status: int = 500
    title: str = "Internal error"

    def __init__(self, message: str, *, rule: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule
        self.details: dict[str, Any] = details

    def __str__(self) -> str:
        return self.message


class InvalidInput(BatpassError):
    """Input breaks a rule. ``field`` names the offending field (dotted path), ``rule`` the rule."""

    kind = "invalid-input"
    status = 400
    title = "Invalid input"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        rule: str | None = None,
        value: Any = None,
        **details: Any,
    ) -> None:
        super().__init__(message, rule=rule, **details)
        self.field = field
        self.value = value


class InvalidIdentifier(InvalidInput):
    """An identifier of a known kind (BPNL, corporate number, GTIN, DID, ...) fails its rule."""

    kind = "invalid-identifier"
    title = "Invalid identifier"

    def __init__(self, value: object, *, id_kind: str, rule: str, field: str | None = None) -> None:
        shown = repr(value) if not isinstance(value, str) else f"'{value}'"
        super().__init__(
            f"{shown} is not a valid {id_kind}: {rule}",
            field=field or id_kind,
            rule=rule,
            value=value,
        )
        self.id_kind = id_kind


class Unauthorized(BatpassError):
    """No or bad credentials (the admin key, a bearer token)."""

    kind = "unauthorized"
    status = 401
    title = "Unauthorized"


class Forbidden(BatpassError):
    """Authenticated, but not entitled."""

    kind = "forbidden"
    status = 403
    title = "Forbidden"


class NotFound(BatpassError):
    kind = "not-found"
    status = 404
    title = "Not found"


class Conflict(BatpassError):
    """The request conflicts with stored state (duplicate, wrong state, version clash)."""

    kind = "conflict"
    status = 409
    title = "Conflict"


class InvariantViolation(Conflict):
    """A domain invariant would break (mass conservation, lot balance, lifecycle rule)."""

    kind = "invariant-violation"
    status = 422
    title = "Invariant violated"


class UpstreamUnavailable(BatpassError):
    """A partner node or service could not be reached or answered badly."""

    kind = "upstream-unavailable"
    status = 502
    title = "Upstream unavailable"


class ConfidentialityViolation(BatpassError):
    """An outbound payload would carry data its recipient is not entitled to. Never sent."""

    kind = "confidentiality-violation"
    status = 500
    title = "Confidentiality violation"


class ConfigurationError(BatpassError):
    """A node's configuration, keys or database cannot be used as they are."""

    kind = "configuration"
    status = 500
    title = "Configuration error"


class SchemaVersionError(ConfigurationError):
    """The database was written by a newer batpass (a schema revision this code does not know)."""

    kind = "schema-version"
    title = "Database schema is newer than this batpass"


class IntegrityViolation(BatpassError):
    """Stored data no longer matches what was signed or what its event log derives (a changed
    row, a broken chain). The item is refused until the store is repaired — never served as it is
    and never signed over. ``table`` and ``key`` name where; ``rule`` names the check."""

    kind = "integrity"
    status = 503
    title = "Stored data failed its integrity check"

    def __init__(
        self, message: str, *, table: str | None = None, key: str | None = None, rule: str | None = None, **details: Any
    ) -> None:
        super().__init__(message, rule=rule, **details)
        self.table = table
        self.key = key


#: every error class, for the test that checks each has a mapping at every edge
ALL_ERRORS: tuple[type[BatpassError], ...] = (
    BatpassError,
    InvalidInput,
    InvalidIdentifier,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    InvariantViolation,
    UpstreamUnavailable,
    ConfidentialityViolation,
    ConfigurationError,
    SchemaVersionError,
    IntegrityViolation,
)
