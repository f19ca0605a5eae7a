"""The recursive federated trace and recall across nodes (docs/architecture.md "Flows", flow 2),
and the resolver role that keeps a battery's Digital Link answering when its operator's node is
down (docs/resolver.md).

A node asks only its direct suppliers (or customers, for a recall) through a partner port, and
answers its own customers with a signed summary computed the same way. A cross-node workflow: it
uses the ledger, the dataspace connector and trust, and knows nothing of the node, the bridge, the
demo or the command line.
"""

from batpass.federation._deadline import (
    DEADLINE_FIELD,
    DEFAULT_DEADLINE_MS,
    MAX_DEADLINE_MS,
    Deadline,
    deadline_reason,
    onward_budget,
    parse_deadline_ms,
)
from batpass.federation._observe import TOMBSTONE_CATEGORIES, FederationMetrics, tombstone_category
from batpass.federation._offer import BridgeSource, install_upstream_offer
from batpass.federation._partners import DspPartners, PartnerPort, Refused
from batpass.federation._ready import ChannelKeeper
from batpass.federation._resolver import (
    SERVED_FROM_HEADER,
    DigitalLinkResolver,
    ResolverRoute,
    ResolverRoutes,
    ResolverUnavailable,
)
from batpass.federation._wire import (
    RECALL_ASSET,
    RECALL_TYP,
    UPSTREAM_ASSET,
    UPSTREAM_SOURCE,
    sign_recall,
    verify_recall,
)
from batpass.federation.service import Downstream, FederatedTrace, Upstream

__all__ = [
    "DEADLINE_FIELD",
    "DEFAULT_DEADLINE_MS",
    "MAX_DEADLINE_MS",
    "RECALL_ASSET",
    "RECALL_TYP",
    "SERVED_FROM_HEADER",
    "TOMBSTONE_CATEGORIES",
    "UPSTREAM_ASSET",
    "UPSTREAM_SOURCE",
    "BridgeSource",
    "ChannelKeeper",
    "Deadline",
    "DigitalLinkResolver",
    "Downstream",
    "DspPartners",
    "FederatedTrace",
    "FederationMetrics",
    "PartnerPort",
    "Refused",
    "ResolverRoute",
    "ResolverRoutes",
    "ResolverUnavailable",
    "Upstream",
    "deadline_reason",
    "install_upstream_offer",
    "onward_budget",
    "parse_deadline_ms",
    "sign_recall",
    "tombstone_category",
    "verify_recall",
]
