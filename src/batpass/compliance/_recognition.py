"""Which recognition rules a judgement applies: those of the market's side (issue 18).

A market belongs to an ecosystem (:data:`MARKET_ECOSYSTEMS`: ``EU`` → Catena-X, ``JP`` →
Ouranos). A certificate counts for a market natively when its issuer is trusted in that
market's ecosystem, and otherwise only when a recognition rule *of that market's side* admits it:
the node's own policy when the market is its own ecosystem's, else the rules configured on the
node for that market (node configuration ``market_recognition``). A Catena-X node judging for the
Japanese market therefore applies the Japanese side's rules, not its own EU-side policy; with no
rules for the market, nothing from outside its ecosystem counts (and the report says so).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from batpass.compliance._evaluate import DEFAULT_MARKET, MARKETS
from batpass.trust import RecognitionPolicy, TrustService

__all__ = ["MARKET_ECOSYSTEMS", "MarketRecognition"]

#: market → the ecosystem whose trust list and recognition rules its judgements apply
MARKET_ECOSYSTEMS: Mapping[str, str] = {"EU": "catena-x", "JP": "ouranos"}


def _market_of_ruleset(ruleset: str) -> str | None:
    """The one market whose rulesets include ``ruleset`` (``name[@version]``), if only one does."""
    name = ruleset.partition("@")[0]
    markets = [m for m, names in MARKETS.items() if name in names]
    return markets[0] if len(markets) == 1 else None


@dataclass(frozen=True)
class MarketRecognition:
    """The recognition rules a judgement for ``market`` applies, and where they come from."""

    market: str | None
    ecosystem: str
    policy: RecognitionPolicy
    source: str

    @classmethod
    def of(cls, trust: TrustService, market: str | None, ruleset: str | None = None) -> MarketRecognition:
        """The rules for ``market`` (default ``EU``) on the node whose trust is ``trust``; for one
        ``ruleset`` the rules of the one market it belongs to (the node's own for a ruleset every
        market uses, e.g. the footprint exchange rules)."""
        own = trust.registry.ecosystem
        chosen = _market_of_ruleset(ruleset) if ruleset is not None else (market or DEFAULT_MARKET)
        ecosystem = own if chosen is None else MARKET_ECOSYSTEMS.get(chosen, own)
        if ecosystem == own:
            return cls(chosen, own, trust.registry.policy, "this node's recognition policy")
        policy = trust.market_policies.get(ecosystem)
        if policy is None:
            return cls(
                chosen,
                ecosystem,
                RecognitionPolicy(ecosystem),
                f"none: this node holds no recognition rules for market {chosen}",
            )
        return cls(chosen, ecosystem, policy, f"the {ecosystem} side's rules for market {chosen} (node configuration)")

    def admit(
        self, issuer_ecosystem: str | None, types: frozenset[str], subject: Mapping[str, Any]
    ) -> tuple[bool, str | None, str]:
        """Whether a verified certificate from ``issuer_ecosystem`` counts for this market: (counts,
        the recognition rule(s) that admitted it — ``None`` when it is native —, why not)."""
        if issuer_ecosystem is None or issuer_ecosystem == self.ecosystem:
            return True, None, ""
        rules = [r for r in self.policy.rules if r.matches(issuer_ecosystem, types, subject)]
        if not rules:
            shown = ", ".join(sorted(types - {"VerifiableCredential"}))
            where = (
                "this node's recognition policy" if self.source.startswith("this node") else self.source.split(" (")[0]
            )
            if self.source.startswith("none"):
                where = f"any rules for market {self.market}"
            return False, None, f"no rule of {where} admits {issuer_ecosystem} {shown}"
        return True, "; ".join(f"{r.id} ({r.label})" if r.label else r.id for r in rules), ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "market": self.market,
            "ecosystem": self.ecosystem,
            "source": self.source,
            "rules": [r.id for r in self.policy.rules],
        }
