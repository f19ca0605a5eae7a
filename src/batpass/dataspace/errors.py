"""Dataspace errors (subclasses of the one error tree)."""

from __future__ import annotations

from batpass.core.errors import Conflict, Unauthorized
from batpass.dataspace._states import InvalidTransition

__all__ = ["ExpiredToken", "InvalidTransition", "PolicyNotSatisfied"]


class PolicyNotSatisfied(Conflict):
    """The requester does not satisfy the offer's policy, or asked for a policy not offered."""

    kind = "policy-not-satisfied"
    status = 400
    title = "Policy not satisfied"


class ExpiredToken(Unauthorized):
    """A data-plane token that expired or was revoked (refresh it)."""

    kind = "expired-token"
    title = "Token expired"
