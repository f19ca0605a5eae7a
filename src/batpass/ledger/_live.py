"""High-risk site ids as a live set (pure): read from their source at each use (the node's site
register, whose :class:`~batpass.core.sitefacts.SiteFacts` iterate as the flagged ids). The
register keeps its view per register version (``SiteService.site_facts``), so a use costs one
small query while the register is unchanged and is never stale after a write; the ledger reads
its source once per summary or trace (``LedgerService`` takes the ``read`` of a live set it is
given), never per element."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet

from batpass.core.sitefacts import site_facts

__all__ = ["LiveSites", "site_facts"]


class LiveSites(AbstractSet[str]):
    """A set of site ids read from its source at each use (the node's site register), so a
    ledger that hands it on keeps following the source rather than the ids of that moment."""

    def __init__(self, read: Callable[[], Iterable[str]]) -> None:
        self.read = read

    def __contains__(self, item: object) -> bool:
        return item in frozenset(self.read())

    def __iter__(self) -> Iterator[str]:
        return iter(frozenset(self.read()))

    def __len__(self) -> int:
        return len(frozenset(self.read()))
