"""Reading a DSP 2025-1 catalog on the consumer's side: datasets at the top and in nested
catalogs (``Catalog.catalog``, DSP 2025-1 "Catalog Protocol" § catalog: "a Catalog may contain
other Catalogs"), and where each is negotiated.

A dataset of the top-level catalog is negotiated with the connector that was asked. A nested
catalog may belong to another connector (a catalog service listing its members' catalogs, a
connector grouping the catalogs of participants it serves): a dataset found there is negotiated
at the ``endpointURL`` of the ``DataService`` its distribution's ``accessService`` names (looked
up in that catalog, then its parents), with the ``participantId`` of the nearest catalog that
names one. Pure: no I/O, nothing about what the datasets hold.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from batpass.dataspace._common import PULL_FORMAT

__all__ = ["MAX_DEPTH", "Located", "datasets", "locate"]

#: how deep nested catalogs are followed (a catalog of catalogs of catalogs is already rare)
MAX_DEPTH = 8


@dataclass(frozen=True, slots=True)
class Located:
    """A dataset and where to negotiate it: ``dsp_url`` and ``participant`` are ``None`` when it is
    the connector asked (a top-level dataset, or a nested catalog naming no other connector)."""

    dataset: Mapping[str, Any]
    depth: int
    dsp_url: str | None = None
    participant: str | None = None


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _walk(
    catalog: Mapping[str, Any], depth: int, services: Sequence[Mapping[str, Any]], participant: str | None
) -> Iterator[tuple[Mapping[str, Any], int, Sequence[Mapping[str, Any]], str | None]]:
    own = [s for s in _list(catalog.get("service")) if isinstance(s, dict)]
    services = [*own, *services]  # the nearest catalog's services first
    named = catalog.get("participantId")
    participant = named if isinstance(named, str) and named else participant
    for ds in _list(catalog.get("dataset")):
        if isinstance(ds, dict):
            yield ds, depth, services, participant
    if depth < MAX_DEPTH:
        for nested in _list(catalog.get("catalog")):
            if isinstance(nested, dict):
                yield from _walk(nested, depth + 1, services, participant)


def datasets(catalog: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every dataset of ``catalog`` and of its nested catalogs (to :data:`MAX_DEPTH`), in order."""
    return [ds for ds, *_ in _walk(catalog, 0, (), None)]


def _endpoint(dataset: Mapping[str, Any], services: Sequence[Mapping[str, Any]]) -> str | None:
    """The ``endpointURL`` of the service the dataset's pull distribution names, if it is an
    absolute http(s) URL."""
    for dist in _list(dataset.get("distribution")):
        if not isinstance(dist, dict) or dist.get("format") not in (PULL_FORMAT, None):
            continue
        access = dist.get("accessService")
        service = access if isinstance(access, dict) else next((s for s in services if s.get("@id") == access), None)
        url = service.get("endpointURL") if service is not None else None
        if isinstance(url, str):
            try:
                parsed = httpx.URL(url)
            except httpx.InvalidURL:
                continue
            if parsed.scheme in ("https", "http") and parsed.host:
                return url.rstrip("/")
    return None


def locate(catalog: Mapping[str, Any], asset: str) -> Located | None:
    """The first dataset ``asset`` in ``catalog`` or its nested catalogs (top level first, then
    depth first), and where to negotiate it."""
    root_participant = catalog.get("participantId")
    for ds, depth, services, participant in _walk(catalog, 0, (), None):
        if ds.get("@id") != asset:
            continue
        if depth == 0:
            return Located(ds, depth)
        other = participant if participant != root_participant else None
        return Located(ds, depth, dsp_url=_endpoint(ds, services), participant=other)
    return None
