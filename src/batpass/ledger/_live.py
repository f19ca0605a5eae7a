"""High-risk site ids as a live set (pure): read from their source at each use."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet

__all__ = ["LiveSites"]


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
