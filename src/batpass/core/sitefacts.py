"""What a node's site register tells its ledger about the sites lots were mined at (pure): which
site ids it knows, which of them a certification covers, which a CAHRA screening flags for
enhanced due diligence, and for flagged sites the operator's finding (docs/sites.md).

The register (``batpass.sites``) builds it, the ledger reads it when it computes a trace or a
summary; it sits in core so neither has to import the other. Iterating it yields the flagged
site ids, so it stands wherever the ledger takes its high-risk site ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["Finding", "SiteFacts", "site_facts"]


@dataclass(frozen=True, slots=True)
class Finding:
    """The operator's finding on a flagged site: the data set that flagged it (``name@version``),
    the finding's document reference and its date (ISO 8601)."""

    dataset: str
    reference: str
    date: str


@dataclass(frozen=True, slots=True)
class SiteFacts:
    """A register's facts, by site id. ``known`` holds every site the register has (of the kinds
    lots are mined at); ``certified`` and ``flagged`` are subsets of it; ``findings`` is keyed by
    flagged site id (each made against ``dataset``, the edition in use)."""

    known: frozenset[str] = frozenset()
    certified: frozenset[str] = frozenset()
    flagged: frozenset[str] = frozenset()
    findings: Mapping[str, Finding] = field(default_factory=lambda: MappingProxyType({}))
    #: the CAHRA data set (``name@version``) the register screens with now, or None
    dataset: str | None = None

    def __iter__(self) -> Iterator[str]:
        return iter(self.flagged)


def site_facts(source: Iterable[str]) -> SiteFacts | frozenset[str]:
    """``source`` as the ledger reads it: a register's :class:`SiteFacts` as it is, a bare list of
    high-risk site ids (no register: nothing known of certification) as a frozenset."""
    return source if isinstance(source, SiteFacts) else frozenset(source)
