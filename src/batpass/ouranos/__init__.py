"""Ouranos profile: the published Ouranos data transaction API as a hub of many operators.

The hub hosts operators (accounts, plants, API keys, keys held on their behalf, a ``did:web``
each), answers the published API exactly (``/auth/*``, ``/api/v1/authInfo``,
``/api/v1/datatransport`` routed by ``dataTarget``) and enforces the platform's rules in
:class:`OuranosHub`, one component per data target (``service``). ``routes`` is imported only by
the composition root.
"""

from pathlib import Path

from batpass.ouranos._client import OuranosClient
from batpass.ouranos._sites import OperatorSites, SiteRelease, released_json
from batpass.ouranos.model import (
    AclItemGroup,
    AmountUnit,
    CfpResponseStatus,
    CfpType,
    DqrType,
    NotificationType,
    Operator,
    Part,
    Plant,
    Trade,
    TradeTreeStatus,
)
from batpass.ouranos.service import BRIDGE_SCOPES, BridgeLink, BridgeRelease, OuranosHub, Principal

#: this capability's Alembic branch
MIGRATIONS_DIR = Path(__file__).resolve().parent / "_migrations"

__all__ = [
    "BRIDGE_SCOPES",
    "MIGRATIONS_DIR",
    "AclItemGroup",
    "AmountUnit",
    "BridgeLink",
    "BridgeRelease",
    "CfpResponseStatus",
    "CfpType",
    "DqrType",
    "NotificationType",
    "Operator",
    "OperatorSites",
    "OuranosClient",
    "OuranosHub",
    "Part",
    "Plant",
    "Principal",
    "SiteRelease",
    "Trade",
    "TradeTreeStatus",
    "released_json",
]
