"""The hub's shape (``batpass.ouranos.service``): :class:`OuranosHub` composes one component
per data target, all on one shared context (that its methods only delegate is checked with the
other facades in ``tests/unit/test_sizes.py``)."""

from __future__ import annotations

from decimal import Decimal

from batpass.footprint import OuranosDqrMapping
from batpass.ouranos import OuranosHub


def test_components_share_one_context(hub: OuranosHub) -> None:
    components = [
        hub.accounts,
        hub.directory,
        hub.plants,
        hub.parts,
        hub.trades,
        hub.cfp,
        hub.certificates,
        hub.releases,
        hub.notifications,
    ]
    assert all(c.context is hub.context for c in components)
    assert hub.context.engine is hub.engine and hub.context.identity is hub.identity
    mapping = OuranosDqrMapping(raw_best=Decimal(1), raw_worst=Decimal(3))
    hub.pact_dqr_mapping = mapping  # configured after construction, as the PACT export tests do
    assert hub.cfp.context.pact_dqr_mapping is mapping
