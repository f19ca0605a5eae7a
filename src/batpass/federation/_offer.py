"""The provider side's set-up: the two assets of the federated trace and their offers on this
node's connector, and the warm-up of the code paths a first trace takes."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from batpass.dataspace import Asset, AssetSource, DspProvider, OfferDefinition, Participant, QueryAssetSource
from batpass.federation._wire import (
    DOWN_KEY,
    RECALL_ASSET,
    UP_KEY,
    UPSTREAM_ASSET,
    UPSTREAM_SOURCE,
    sign_recall,
    verify_recall,
)
from batpass.federation.service import FederatedTrace

__all__ = ["BridgeSource", "install_upstream_offer"]

_MEMBERSHIP = {"leftOperand": "Membership", "operator": "eq", "rightOperand": "active"}
log = logging.getLogger(__name__)


class BridgeSource(AssetSource, QueryAssetSource, Protocol):
    """What serves the two assets on a bridge: answers for lots pulled with ``?lot=ID``."""


def install_upstream_offer(provider: DspProvider, source: FederatedTrace | BridgeSource) -> None:
    """Register the source, the assets ``upstream-summary`` and ``downstream-recall`` and their
    offers (Membership access and usage policy) on this node's provider; idempotent (run at
    every start). Then warm, in a background thread, the code paths a first trace takes (see
    :func:`_warm`)."""
    provider.register_source(UPSTREAM_SOURCE, source)
    assets = (
        (UPSTREAM_ASSET, UP_KEY, "Upstream summary", "signed upstream summary of a lot shipped to the requester"),
        (RECALL_ASSET, DOWN_KEY, "Downstream recall", "which of this node's batteries contain a lot it received"),
    )
    for asset_id, key, title, description in assets:
        provider.register_asset(
            Asset(
                id=asset_id,
                source=UPSTREAM_SOURCE,
                source_key=key,
                title=title,
                properties={"description": f"{description} (?lot=ID)"},
            )
        )
        provider.register_offer(
            OfferDefinition(
                id=f"{asset_id}:membership",
                asset_id=asset_id,
                access_policy={"permission": [{"action": "access", "constraint": [{"and": [_MEMBERSHIP]}]}]},
                usage_policy={"permission": [{"action": "use", "constraint": [{"and": [_MEMBERSHIP]}]}]},
            )
        )
    if isinstance(source, FederatedTrace):  # a bridge answers from its hub: nothing of its own to warm
        threading.Thread(target=_warm, args=(provider, source), name="federation-warm-up", daemon=True).start()


def _warm(provider: DspProvider, source: FederatedTrace) -> None:
    """Run, once at start, in-process and without any partner, the code a first trace would
    otherwise load lazily (the floors in docs/benchmarks.md: the first request after start costs
    100-140 ms over a chain): this node's own catalog as its consumer sees it (JSON-LD and
    schema validators), a recall answer signed and verified (joserfc Ed25519), the ledger's
    change counter (its first connection) and the reads of a question's branches (suppliers,
    customers, receipts, stored summaries: their statements compiled). No agreement, transfer or
    DID document is cached."""
    try:
        me = Participant(source.owner, provider.settings.bpnl, frozenset({"MembershipCredential"}))
        provider.catalog(me, limit=1)
        own = source.identity.active("Ed25519")
        jwk = dict(own.public_jwk())
        token = sign_recall(
            {
                "issuer": source.owner,
                "subject": {"id": "warm-up"},
                "batteries": [],
                "lots": 0,
                "batteriesBelow": 0,
                "tombstones": [],
            },
            source.identity,
        )
        verify_recall(token, lambda _kid: jwk)
        source.ledger.change_mark(source.owner)
        source.ledger.received_summaries(source.owner, ["warm-up"])
        source.ledger.receipts_of(source.owner, source.owner, "warm-up")
        # the statements a question's branches read (compiled on first use: a few ms of CPU each)
        source.ledger.suppliers_of(source.owner, ["warm-up"])
        source.ledger.customers_of(source.owner, ["warm-up"])
    except Exception:  # a warm-up failure only leaves the first trace slower
        log.warning("federated trace warm-up failed", exc_info=True)
