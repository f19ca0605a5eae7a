"""Errors of the PACT API that carry a standard's own error code.

``OAuthError`` answers the token endpoint in the RFC 6749 section 5.2 shape (``error``,
``error_description``); ``TokenExpired`` lets the PACT error shape say ``TokenExpired`` (PACT v3
``Error.code``) rather than ``BadRequest`` for an invalid token.
"""

from __future__ import annotations

from batpass.core.errors import BatpassError, Unauthorized

__all__ = ["OAuthError", "TokenExpired"]


class OAuthError(BatpassError):
    """A token request refused (RFC 6749 section 5.2): ``error`` is the OAuth2 error code."""

    kind = "oauth-error"
    title = "OAuth2 token request refused"

    def __init__(self, message: str, *, error: str, status: int, rule: str | None = None) -> None:
        super().__init__(message, rule=rule)
        self.error = error
        self.status = status


class TokenExpired(Unauthorized):
    """A bearer token that was issued here but has expired (PACT v3 ``TokenExpired``)."""
