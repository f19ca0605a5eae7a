"""Dataspace errors (subclasses of the one error tree).

Besides the provider's refusals (:class:`PolicyNotSatisfied`, :class:`ExpiredToken`,
:class:`InvalidTransition`), the consumer's journey (catalog → negotiate → transfer → data plane)
fails with a :class:`ChannelError` whose fields say where (``stage``), with whom (``partner``),
what the provider answered (``partner_status``, ``reason``) and which rule applies (``rule``): callers
map the error's type and fields, never its message. Each is also a subclass of the core error the
edges already map (``Forbidden``, ``NotFound``, ``UpstreamUnavailable``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from batpass.core.errors import BatpassError, Conflict, Forbidden, NotFound, Unauthorized, UpstreamUnavailable
from batpass.dataspace._states import InvalidTransition

__all__ = [
    "CatalogRefused",
    "ChannelError",
    "ChannelTimeout",
    "ExpiredToken",
    "InvalidTransition",
    "NegotiationRefused",
    "NoCommonVersion",
    "NotEntitled",
    "NotOffered",
    "PartnerUnreachable",
    "PolicyNotSatisfied",
    "PullFailed",
    "Stage",
    "TransferEnded",
    "TransferRefused",
]


class PolicyNotSatisfied(Conflict):
    """The requester does not satisfy the offer's policy, or asked for a policy not offered."""

    kind = "policy-not-satisfied"
    status = 400
    title = "Policy not satisfied"


class ExpiredToken(Unauthorized):
    """A data-plane token that expired or was revoked (refresh it)."""

    kind = "expired-token"
    title = "Token expired"


class Stage(StrEnum):
    """Where in the consumer's journey a step failed: the three DSP 2025-1 protocols (catalog,
    contract negotiation, transfer process) and the provider's data plane."""

    CATALOG = "catalog"
    NEGOTIATION = "contract negotiation"
    TRANSFER = "transfer process"
    DATA_PLANE = "data plane"


class ChannelError(BatpassError):
    """A step of this node's consumer journey with a provider failed.

    ``stage``: where; ``partner``: the provider's participant (the DID the request was addressed
    to); ``partner_status``: the HTTP status of the provider's refusing answer, ``None`` when no
    answer came or the refusal came later as a protocol message (a termination) — ``status`` stays
    the status this error maps to at this node's own edges; ``reason``: the provider's own words
    where it gave any (DSP error message ``reason``, termination reason).
    """

    def __init__(
        self,
        message: str,
        *,
        stage: Stage,
        partner: str,
        partner_status: int | None = None,
        reason: str | None = None,
        rule: str | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, rule=rule, **details)
        self.stage = stage
        self.partner = partner
        self.partner_status = partner_status
        self.reason = reason


class PartnerUnreachable(ChannelError, UpstreamUnavailable):
    """The provider's connector did not answer (``partner_status`` ``None``: a transport error),
    answered that it is not working (a 5xx), or answered something that is not the DSP message
    expected (``partner_status`` its 2xx, ``reason`` what is wrong with it)."""

    kind = "partner-unreachable"
    title = "Partner unreachable"


class NoCommonVersion(ChannelError, UpstreamUnavailable):
    """The partner's connector offers no Dataspace Protocol version and binding this node speaks
    (its ``/.well-known/dspace-version``; ``reason`` lists what it offers): the communication ends
    there (DSP 2025-1 Exposure of Versions)."""

    kind = "no-common-version"
    title = "No common protocol version"


class ChannelTimeout(ChannelError, UpstreamUnavailable):
    """The provider's callback (agreement, finalization, transfer start) did not come in time."""

    kind = "partner-timeout"
    title = "Partner did not answer in time"


class CatalogRefused(ChannelError, Forbidden):
    """The provider refused this node's catalog request (a 4xx: e.g. 401 when it does not accept
    this node's membership, 400 for a DSP error message)."""

    kind = "catalog-refused"
    title = "Catalog request refused"


class NotOffered(ChannelError, Forbidden):
    """The provider's catalog for this node offers no such asset (its access policy)."""

    kind = "not-offered"
    title = "Not offered"


class NegotiationRefused(ChannelError, Forbidden):
    """The provider refused the contract request (``partner_status``: its 4xx answer, ``reason``
    e.g. the usage policy not satisfied) or terminated the negotiation later (``partner_status``
    ``None``)."""

    kind = "negotiation-refused"
    title = "Contract negotiation refused"


class TransferRefused(ChannelError, Forbidden):
    """The provider refused the transfer request (``partner_status``: its 4xx answer) or ended
    the transfer before starting it (``partner_status`` ``None``: terminated or completed)."""

    kind = "transfer-refused"
    title = "Transfer refused"


class NotEntitled(ChannelError, NotFound):
    """The data plane answered 404: nothing this node is entitled to for that query (a provider
    answers what does not exist and what this node may not have alike)."""

    kind = "not-entitled"
    title = "Not entitled"


class PullFailed(ChannelError, UpstreamUnavailable):
    """The data plane refused or failed a pull, a proxied request or a token refresh
    (``partner_status``: its answer, 400 when it refused the query)."""

    kind = "pull-failed"
    title = "Data-plane request failed"


class TransferEnded(PullFailed):
    """The data plane no longer honours the transfer's tokens, even refreshed (401): the provider
    ended the transfer (completed, suspended, terminated); a new negotiation is needed."""

    kind = "transfer-ended"
    title = "Transfer ended"
