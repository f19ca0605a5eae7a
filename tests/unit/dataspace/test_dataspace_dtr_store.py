"""The twin registry's store-level lookup and bulk load on SQLite and PostgreSQL: every shape of
lookup (specific ids, ``globalAssetId``, both, none) for the owner, a named partner and an
anonymous reader, cursor paging through a lookup, and ``bulk_create`` keeping the keys the
single-shell path goes on with."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from batpass.core.errors import InvalidInput
from batpass.dataspace import MIGRATIONS_DIR, Reader, TwinRegistry
from batpass.dataspace._dtr import OWNER

PARTNER = "BPNL000000000CNS"
OTHER = "BPNL000000000OTH"
PUBLIC = {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": "PUBLIC_READABLE"}]}


def _subject(bpnl: str) -> dict[str, Any]:
    return {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": bpnl}]}


def shell(i: int) -> dict[str, Any]:
    """Even twins are the partner's, odd ones another partner's; every third has a public part id."""
    ids: list[dict[str, Any]] = [
        {"name": "partInstanceId", "value": f"SN-{i}", "externalSubjectId": _subject(PARTNER if i % 2 == 0 else OTHER)},
        {"name": "digitalTwinType", "value": "PartInstance", "externalSubjectId": _subject(PARTNER)},
    ]
    if i % 3 == 0:
        ids.append({"name": "manufacturerPartId", "value": "MPN-1", "externalSubjectId": PUBLIC})
    return {"id": f"urn:uuid:shell-{i}", "globalAssetId": f"urn:uuid:cx-{i}", "specificAssetIds": ids}


@pytest.fixture
def registry(make_store: Callable[[Sequence[Path]], Engine]) -> TwinRegistry:
    reg = TwinRegistry(make_store([MIGRATIONS_DIR]), verifier=None)  # type: ignore[arg-type]  # no HTTP here
    assert reg.bulk_create([shell(i) for i in range(12)]) == 12
    return reg


def _ids(reg: TwinRegistry, links: list[dict[str, Any]], reader: Reader, **kw: Any) -> list[str]:
    out: list[str] = reg.lookup(links, reader, limit=kw.get("limit"), cursor=kw.get("cursor"))["result"]
    return out


def test_lookup_shapes_and_visibility(registry: TwinRegistry) -> None:
    partner, other, anonymous = Reader(bpnl=PARTNER), Reader(bpnl=OTHER), Reader(bpnl=None)
    sn = [{"name": "partInstanceId", "value": "SN-4"}]
    assert _ids(registry, sn, partner) == ["urn:uuid:shell-4"]
    assert _ids(registry, sn, other) == []  # named for another partner
    assert _ids(registry, sn, anonymous) == []
    assert _ids(registry, sn, OWNER) == ["urn:uuid:shell-4"]
    # every criterion must match, each visible to the reader
    both = [*sn, {"name": "manufacturerPartId", "value": "MPN-1"}]
    assert _ids(registry, both, partner) == []  # shell-4 has no public part id
    six = [{"name": "partInstanceId", "value": "SN-6"}, {"name": "manufacturerPartId", "value": "MPN-1"}]
    assert _ids(registry, six, partner) == ["urn:uuid:shell-6"]
    # the global id needs some visible id of the same twin
    glob = [{"name": "globalAssetId", "value": "urn:uuid:cx-5"}]
    assert _ids(registry, glob, partner) == ["urn:uuid:shell-5"]  # its digitalTwinType is the partner's
    assert _ids(registry, glob, anonymous) == []
    assert _ids(registry, [{"name": "globalAssetId", "value": "urn:uuid:cx-3"}], anonymous) == ["urn:uuid:shell-3"]
    assert _ids(registry, [*glob, {"name": "partInstanceId", "value": "SN-5"}], partner) == []
    assert _ids(registry, [*glob, {"name": "partInstanceId", "value": "SN-5"}], other) == ["urn:uuid:shell-5"]
    # no criteria: everything the reader may see
    assert _ids(registry, [], anonymous) == [f"urn:uuid:shell-{i}" for i in (0, 3, 6, 9)]
    assert len(_ids(registry, [], partner)) == 12
    assert _ids(registry, [], other) == [f"urn:uuid:shell-{i}" for i in range(12) if i % 2 or i % 3 == 0]
    # the same shape again (the statement is built once per shape) with other values
    assert _ids(registry, [{"name": "partInstanceId", "value": "SN-8"}], partner) == ["urn:uuid:shell-8"]


def test_lookup_pages_with_a_cursor(registry: TwinRegistry) -> None:
    link = [{"name": "digitalTwinType", "value": "PartInstance"}]
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = registry.lookup(link, Reader(bpnl=PARTNER), limit=5, cursor=cursor)
        seen += page["result"]
        cursor = page["paging_metadata"].get("cursor")
        if cursor is None:
            break
    assert seen == [f"urn:uuid:shell-{i}" for i in range(12)]
    with pytest.raises(InvalidInput):
        registry.lookup(link, OWNER, limit=0, cursor=None)
    with pytest.raises(InvalidInput):
        registry.lookup([{"name": "partInstanceId", "value": 4}], OWNER, limit=None, cursor=None)


def test_many_criteria_are_not_cached_but_answered(registry: TwinRegistry) -> None:
    links = [{"name": "partInstanceId", "value": "SN-0"}] * 12
    assert _ids(registry, links, Reader(bpnl=PARTNER)) == ["urn:uuid:shell-0"]


def test_bulk_create_keeps_order_and_keys(registry: TwinRegistry) -> None:
    created = registry.create_shell(shell(12))
    assert created["createdAt"]
    assert _ids(registry, [{"name": "partInstanceId", "value": "SN-12"}], Reader(bpnl=PARTNER)) == ["urn:uuid:shell-12"]
    assert registry.bulk_create([shell(13), shell(14)]) == 2
    listed = registry.list_shells(OWNER, limit=100, cursor=None)["result"]
    assert [s["id"] for s in listed] == [f"urn:uuid:shell-{i}" for i in range(15)]
    assert all(s["createdAt"] for s in listed)
    assert registry.bulk_create([]) == 0
