"""Errors of the trust capability, on the project's one error tree (``batpass.core.errors``).

A rejected credential, presentation, token or trust list raises :class:`CredentialRejected`
carrying a machine-readable ``reason`` (one of :class:`batpass.trust.model.RejectReason`) and the
chain of checks made up to the failure, so a verifier can show why.
"""

from __future__ import annotations

from typing import Any

from batpass.core.errors import Unauthorized

__all__ = ["CredentialRejected"]


class CredentialRejected(Unauthorized):
    """A token, credential, presentation or trust list failed verification.

    ``reason`` names the failed check (``signature``, ``algorithm``, ``expired``, ``revoked``,
    ``unknown-issuer``, ``issuer-not-trusted-for-type``, ``nonce-replayed``, ``audience``,
    ``disclosure-unreferenced``, ...); ``checks`` holds the chain of checks made so far.
    """

    kind = "credential-rejected"
    title = "Credential rejected"

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        rule: str | None = None,
        checks: tuple[Any, ...] = (),
        **details: Any,
    ) -> None:
        super().__init__(message, rule=rule, **details)
        self.reason = reason
        self.checks = checks
