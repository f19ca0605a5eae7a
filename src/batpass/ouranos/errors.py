"""Errors of the Ouranos hub, on the one error tree; routes answer them as ``{code, message, detail}``."""

from __future__ import annotations

from batpass.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized

__all__ = [
    "AccessDenied",
    "ApiKeyRejected",
    "InvalidToken",
    "NotReleased",
    "NotYourData",
    "RequestClosed",
    "UnknownTarget",
]


class ApiKeyRejected(Forbidden):
    """The ``apiKey`` header is missing or unknown (OpenAPI 403 ``[auth] AccessDenied``)."""

    kind = "ouranos-api-key"


class AccessDenied(Forbidden):
    """The body names another operator than the token's (OpenAPI: "異なる場合は403エラー")."""

    kind = "ouranos-access-denied"


class InvalidToken(Unauthorized):
    """The bearer token is missing, expired or not the hub's (OpenAPI 401)."""

    kind = "ouranos-token"


class NotYourData(NotFound):
    """An id that is not among the caller's own records (never says whether it exists elsewhere)."""

    kind = "ouranos-not-found"


class RequestClosed(Conflict):
    """The request was cancelled or rejected: nothing moves it any more."""

    kind = "ouranos-request-closed"


class UnknownTarget(InvalidInput):
    """``dataTarget`` names nothing on this path."""

    kind = "ouranos-data-target"


class NotReleased(Forbidden):
    """The owner has not released this data to the caller (its release decides who reads)."""

    kind = "ouranos-not-released"
