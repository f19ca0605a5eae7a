"""The PACT v2.3 host system beside v3, over the same store (``pact_footprints``).

Source: PACT Technical Specifications v2.3 (the conformance tool's ``openapi_v2_3.yaml``): Action
ListFootprints (``limit`` and ``Link`` pagination; ``$filter`` in the OData subset the v2
Technical Specifications name, anything else refused with 400), Action GetFootprint (404 ``NoSuchFootprint``),
Action Events (CloudEvents with the ``org.wbcsd.pathfinder.…v1`` types; a
``ProductFootprintRequest.Created.v1`` names the footprints wanted by a ProductFootprint fragment
``data.pf`` and is answered, through the outbox, at ``<source>/2/events``). Authentication is the
v3 one (``/pact/auth/token``): one client, one token, both versions.

A footprint given as v2 is served as given; one given as v3 is converted by
:func:`batpass.footprint._pact_v2.v3_to_v2`, which states every converted value in the document.
A v3 footprint v2 cannot express (a declared unit v2 lacks, with no mass to convert through) is not
offered by this API: GetFootprint answers 404 saying why, ListFootprints leaves it out.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import insert, select

from batpass.core.errors import InvalidInput, NotFound
from batpass.core.ids import new_uuid7
from batpass.core.unicode import check_scalar_text
from batpass.footprint._pact import read_pact
from batpass.footprint._pact_client import CLOUDEVENTS_JSON
from batpass.footprint._pact_v2 import v2_to_v3, v3_to_v2
from batpass.footprint._sql import pact_events, pact_footprints
from batpass.footprint.service import (
    OUTBOX_KIND,
    FootprintFilter,
    FootprintPage,
    PactService,
    _check_pf_ids,
    _parse_time,
    answer_event,
    events_endpoint,
)
from batpass.store import UnitOfWork, enqueue, remember_delivery

__all__ = ["EVENT_TYPES_V2", "PactV2Api", "odata_filter"]

#: PACT v2 event types (CloudEvents ``type``)
REQUEST_CREATED = "org.wbcsd.pathfinder.ProductFootprintRequest.Created.v1"
REQUEST_FULFILLED = "org.wbcsd.pathfinder.ProductFootprintRequest.Fulfilled.v1"
REQUEST_REJECTED = "org.wbcsd.pathfinder.ProductFootprintRequest.Rejected.v1"
PUBLISHED = "org.wbcsd.pathfinder.ProductFootprint.Published.v1"
EVENT_TYPES_V2 = frozenset({REQUEST_CREATED, REQUEST_FULFILLED, REQUEST_REJECTED, PUBLISHED})

#: the ProductFootprint fragment members a v2 request may name (each a list of URNs), and the v3
#: filter criterion each becomes
FRAGMENT_CRITERIA = {
    "productIds": "product_ids",
    "companyIds": "company_ids",
    "productClassifications": "classifications",
}
UN_CPC = "urn:pact:productclassification:un-cpc:"


class PactV2Api:
    """PACT v2.3 over a node's :class:`PactService` (its store, clock, base URL and tokens)."""

    def __init__(self, pact: PactService) -> None:
        self.pact = pact

    @property
    def events_source(self) -> str:
        return f"{self.pact.base_url}/pact/2/events"

    # ---- storing a footprint given as v2 ---------------------------------------------------------

    def store_v2_document(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """Serve a PACT v2 ProductFootprint: kept as given for this API, converted to v3 (every
        converted value stated in the v3 document) for the v3 API. Returns the v3 document."""
        doc = dict(document)
        check_scalar_text(doc)  # before conversion: the v3 document's members name other places
        read_pact(doc, expect=2)
        v3 = v2_to_v3(doc, base_url=self.pact.base_url)
        return self.pact.store_document(v3, v2_document=doc)

    # ---- ListFootprints / GetFootprint -------------------------------------------------------------

    def _rows(self, flt: FootprintFilter) -> list[dict[str, Any]]:
        q = select(pact_footprints.c.document, pact_footprints.c.v2_document).order_by(pact_footprints.c.seq)
        with self.pact.engine.connect() as conn:
            rows = conn.execute(q.where(*self.pact._where(flt))).all()
        out = []
        for row in rows:
            doc = (
                dict(row.v2_document)
                if row.v2_document is not None
                else v3_to_v2(row.document, base_url=self.pact.base_url)
            )
            if doc is not None:
                out.append(doc)
        return out

    def list_footprints(self, *, offset: int = 0, limit: int | None = None, odata: str | None = None) -> FootprintPage:
        """A page of the v2 footprints, in store order; ``odata`` is a ``$filter`` expression
        (:func:`odata_filter`). The conversion runs over every stored footprint (a v2 page of a
        large store costs as much as the whole list)."""
        size = self.pact.max_page_size if limit is None else max(0, min(limit, self.pact.max_page_size))
        docs = self._rows(FootprintFilter())
        if odata is not None:
            keep = odata_filter(odata)
            docs = [d for d in docs if keep(d)]
        return FootprintPage(docs[offset : offset + size], len(docs), offset, size)

    def get_footprint(self, footprint_id: str) -> dict[str, Any]:
        with self.pact.engine.connect() as conn:
            row = conn.execute(
                select(pact_footprints.c.document, pact_footprints.c.v2_document).where(
                    pact_footprints.c.id == footprint_id
                )
            ).first()
        if row is None:
            raise NotFound(f"Footprint with ID '{footprint_id}' does not exist", rule="PACT v2 GetFootprint: 404")
        if row.v2_document is not None:
            return dict(row.v2_document)
        doc = v3_to_v2(row.document, base_url=self.pact.base_url)
        if doc is None:
            unit = row.document["pcf"]["declaredUnitOfMeasurement"]
            raise NotFound(
                f"Footprint with ID '{footprint_id}' cannot be expressed in PACT v2: its declared unit {unit!r} "
                "is not a v2 declared unit and no mass is given to convert through; read it with the v3 API",
                rule="PACT v2 CarbonFootprint.declaredUnit enum",
            )
        return doc

    # ---- Action Events ---------------------------------------------------------------------------

    def receive_event(self, event: Any, *, client_id: str | None) -> str | None:
        """Accept a PACT v2 CloudEvent; a ``ProductFootprintRequest.Created.v1`` is answered
        (returns the answer's outbox id), the others are recorded."""
        ev = _validated_v2_event(event)
        key = f"pact-event:{ev['source']}:{ev['id']}"
        with UnitOfWork(self.pact.engine) as uow:
            first, _ = remember_delivery(uow, key, sender=client_id)
            if not first:
                return None
            answer_id: str | None = None
            if ev["type"] == REQUEST_CREATED:
                flt = _fragment_filter(ev["data"]["pf"])
                answer_id = enqueue(
                    uow,
                    kind=OUTBOX_KIND,
                    destination=events_endpoint(ev["source"], version=2),
                    body=self._answer(ev, flt),
                    headers={"Content-Type": CLOUDEVENTS_JSON},
                    idempotency_key=f"pact-answer:{key}",
                )
            uow.conn.execute(
                insert(pact_events).values(
                    id=str(new_uuid7()),
                    event_id=ev["id"],
                    source=ev["source"],
                    type=ev["type"],
                    client_id=client_id,
                    body=ev,
                    answer_outbox_id=answer_id,
                    received_at=self.pact.clock.now(),
                )
            )
            uow.commit()
        return answer_id

    def _answer(self, request: Mapping[str, Any], flt: FootprintFilter) -> dict[str, Any]:
        docs = self._rows(flt) if any(values for _, values in flt.criteria()) else []
        kinds = (REQUEST_FULFILLED, REQUEST_REJECTED)
        return answer_event(request, docs, kinds, self.events_source, self.pact.clock.now())


def _fragment_filter(fragment: Any) -> FootprintFilter:
    """The criteria of a v2 request's ProductFootprint fragment ``data.pf``: ``productIds``,
    ``companyIds``, ``productClassifications`` (lists of URNs) and ``productCategoryCpc`` (a UN CPC
    code, matched as its classification URN). Any other member is refused, never ignored: a
    criterion the node did not apply would answer with footprints the requester did not ask for."""
    if not isinstance(fragment, dict) or not fragment:
        raise InvalidInput(
            "data.pf must be a non-empty ProductFootprint fragment",
            field="data.pf",
            rule="PACT v2 RequestCreatedEvent.data.pf",
        )
    values: dict[str, tuple[str, ...]] = {}
    for name, value in fragment.items():
        if name == "productCategoryCpc" and isinstance(value, str) and value:
            values["classifications"] = (*values.get("classifications", ()), f"{UN_CPC}{value}")
            continue
        if name not in FRAGMENT_CRITERIA:
            raise InvalidInput(
                f"data.pf.{name} is not a criterion this node answers requests by",
                field=f"data.pf.{name}",
                rule="PACT v2 RequestCreatedEvent.data.pf: productIds, companyIds, productClassifications, "
                "productCategoryCpc",
            )
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidInput(
                f"data.pf.{name} must be an array of strings", field=f"data.pf.{name}", rule="PACT v2 Urn[]"
            )
        key = FRAGMENT_CRITERIA[name]
        values[key] = (*values.get(key, ()), *value)
    return FootprintFilter(
        product_ids=values.get("product_ids", ()),
        company_ids=values.get("company_ids", ()),
        classifications=values.get("classifications", ()),
    )


def _validated_v2_event(event: Any) -> dict[str, Any]:
    """CloudEvents 1.0 structured mode with the PACT v2 ``BaseEvent`` attributes and a v2 type."""
    if not isinstance(event, dict):
        raise InvalidInput("the event must be a JSON object", field="body", rule="CloudEvents structured content mode")
    for name in ("type", "specversion", "id", "source", "time"):
        if not isinstance(event.get(name), str) or not event[name]:
            raise InvalidInput(
                f"event attribute {name} is missing or empty", field=name, rule="PACT v2 BaseEvent.required"
            )
    if event["specversion"] != "1.0":
        raise InvalidInput(
            f"specversion {event['specversion']!r} is not 1.0", field="specversion", rule="CloudEvents 1.0"
        )
    if event["type"] not in EVENT_TYPES_V2:
        raise InvalidInput(
            f"event type {event['type']!r} is not a PACT v2 event",
            field="type",
            rule="one of ProductFootprintRequest.Created.v1, .Fulfilled.v1, .Rejected.v1, "
            "ProductFootprint.Published.v1",
            value=event["type"],
        )
    _parse_time(event["time"], "time")
    data = event.get("data")
    if not isinstance(data, dict):
        raise InvalidInput("event data must be an object", field="data", rule="PACT v2 event data")
    if event["type"] == REQUEST_CREATED and "pf" not in data:
        raise InvalidInput("data.pf is required", field="data.pf", rule="PACT v2 RequestCreatedEvent.data.pf")
    if event["type"] in (REQUEST_FULFILLED, REQUEST_REJECTED) and not isinstance(data.get("requestEventId"), str):
        raise InvalidInput("data.requestEventId is required", field="data.requestEventId", rule=f"{event['type']}.data")
    if event["type"] == PUBLISHED:
        _check_pf_ids(data.get("pfIds"))
    return dict(event)


#: PACT v2 ``$filter``: the OData v4 subset of the Technical Specifications v2 (ListFootprints
#: filtering): comparisons of a property with a quoted literal, ``any`` over the URN lists, ``and``
_COMPARISON = re.compile(r"^([A-Za-z]+(?:/[A-Za-z]+)?) (eq|ne|lt|le|gt|ge) '([^']*)'$")
_ANY = re.compile(r"^(productIds|companyIds|productClassifications)/any\((\w+):\(\2 eq '([^']*)'\)\)$")
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}
_TIMES = frozenset(
    {
        "created",
        "updated",
        "validityPeriodStart",
        "validityPeriodEnd",
        "pcf/referencePeriodStart",
        "pcf/referencePeriodEnd",
    }
)


def odata_filter(expression: str) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate over v2 ProductFootprints for a ``$filter`` expression; what the subset does not
    cover is refused (400 naming the clause), never ignored."""
    tests = [_clause(c.strip()) for c in re.split(r" and (?=(?:[^']*'[^']*')*[^']*$)", expression.strip())]
    return lambda doc: all(t(doc) for t in tests)


def _clause(clause: str) -> Callable[[Mapping[str, Any]], bool]:
    if m := _ANY.match(clause):
        name, wanted = m.group(1), m.group(3)

        def has(doc: Mapping[str, Any]) -> bool:
            return wanted in (doc.get(name) or ())

        return has
    m = _COMPARISON.match(clause)
    if m is None:
        raise InvalidInput(
            f"$filter clause {clause!r} is outside the supported OData subset",
            field="$filter",
            rule="PACT v2 $filter: <property> eq|ne|lt|le|gt|ge '<literal>', "
            "productIds|companyIds|productClassifications/any(x:(x eq '<literal>')), joined by and",
            value=clause,
        )
    path, op, literal = m.groups()
    compare = _OPS[op]
    if path in _TIMES:
        when = _parse_time(literal, "$filter")

        def at_time(doc: Mapping[str, Any]) -> bool:
            value = _time_at(doc, path)
            return value is not None and compare(value, when)

        return at_time

    def at_text(doc: Mapping[str, Any]) -> bool:
        value = _at(doc, path)
        return isinstance(value, str) and compare(value, literal)

    return at_text


def _at(doc: Mapping[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("/"):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _time_at(doc: Mapping[str, Any], path: str) -> dt.datetime | None:
    value = _at(doc, path)
    if not isinstance(value, str):
        return None
    try:
        return _parse_time(value, path)
    except InvalidInput:
        return None
