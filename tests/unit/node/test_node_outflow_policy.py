"""A node's outflow policy comes from its config (docs/outflows.md): the ledger it runs warns or
blocks as configured, and a bad value stops it with a configuration error naming the key."""

from __future__ import annotations

import pytest

from batpass.core.errors import ConfigurationError
from batpass.core.settings import Settings
from batpass.ledger import Element, OutflowPolicy
from batpass.node import init_node


def test_the_configured_policy_reaches_the_ledger_and_a_bad_one_is_refused(settings: Settings) -> None:
    node, _ = init_node("rec", profiles=["catena-x"], settings=settings, bpnl="BPNL00000003AYRE")
    try:
        assert node.ledger_service().outflow_policy == OutflowPolicy()
        node.config.extra["outflows"] = {"mode": "block", "controlled_materials": ["Li", "Co"]}
        assert node.ledger_service().outflow_policy == OutflowPolicy("block", frozenset({Element.LI, Element.CO}))
        node.config.extra["outflows"] = {"mode": "stop"}
        with pytest.raises(ConfigurationError) as exc:
            node.ledger_service()
        assert "outflows.mode" in exc.value.message and exc.value.rule == "ledger.outflows.policy"
    finally:
        node.close()
