"""``batpass.node.serve.preload``: what a node forked from the demo process would otherwise read
again as it starts is read once in the parent — the modules it imports and the bundled rulesets."""

from __future__ import annotations

import sys

from batpass.compliance import _rules, load_ruleset
from batpass.node.serve import preload


def test_preload_imports_the_app_and_parses_the_rulesets() -> None:
    _rules._available.cache_clear()
    preload()
    assert "batpass.node.app" in sys.modules
    assert _rules._available.cache_info().currsize == 1  # parsed: a forked node reuses it
    misses = _rules._available.cache_info().misses
    assert load_ruleset().name == "eu-2023-1542"
    assert _rules._available.cache_info().misses == misses  # nothing parsed again
