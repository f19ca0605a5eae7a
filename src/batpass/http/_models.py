"""Request models of the ``/v1`` write routes: a base model and constrained types, so every body
is typed, documented in OpenAPI with its limits, and refused with a problem naming the field and
the rule (pydantic's error type, e.g. ``string_too_long``, ``finite_number``) before a route runs.

The limits are :mod:`batpass.core.limits`: text at most 4 KiB unless a field says otherwise, lists
at most 10,000 items, numbers finite. A standard document inside a body (a passport's static
data, a PACT footprint, a compliance subject) is a :data:`Document` — a JSON object described and
checked by the service that knows its schema, not duplicated here.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from batpass.core.errors import InvalidInput
from batpass.core.limits import MAX_ITEMS, MAX_JWS, MAX_MASS_KG, MAX_TEXT
from batpass.http._json import check_json

__all__ = [
    "Document",
    "FiniteFloat",
    "IsoDate",
    "Items",
    "Jws",
    "MassKg",
    "OpenRequestModel",
    "RequestModel",
    "Text",
    "Token",
]

T = TypeVar("T")

#: text of at most 4 KiB (may be empty; the service says when it must not be)
Text = Annotated[str, Field(max_length=MAX_TEXT)]
#: a non-empty text of at most 4 KiB (an identifier, a DID, a URL, a name)
Token = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
#: a signed token (compact JWS, JWT, SD-JWT) of at most 1 MiB
Jws = Annotated[str, Field(min_length=1, max_length=MAX_JWS)]
#: a list of at most 10,000 items
Items = Annotated[list[T], Field(max_length=MAX_ITEMS)]
#: a finite JSON number (no NaN, no Infinity; a string or a boolean is not a number)
FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
#: a mass in kilograms: a finite JSON number above zero, at most a billion tonnes
MassKg = Annotated[float, Field(strict=True, gt=0, le=MAX_MASS_KG, allow_inf_nan=False)]


def _finite_document(value: dict[str, Any]) -> dict[str, Any]:
    try:
        check_json(value, field="(body)")
    except InvalidInput as exc:
        raise PydanticCustomError(
            "finite_number", "{where}: numbers must be finite (RFC 8259 §6)", {"where": exc.field}
        ) from None
    return value


#: a JSON object whose schema the service checks (a standard document inside the body); its
#: numbers are finite
Document = Annotated[dict[str, Any], AfterValidator(_finite_document), Field(json_schema_extra={"type": "object"})]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: Any) -> Any:
    """Only a calendar date as text passes (no timestamp number, no date-time to truncate)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    raise PydanticCustomError(
        "date_format", "expected a date YYYY-MM-DD (ISO 8601), got {value}", {"value": repr(value)[:64]}
    )


#: a calendar date, YYYY-MM-DD (ISO 8601) and nothing else
IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]


class RequestModel(BaseModel):
    """Base of the request bodies: fields by their wire names (camelCase where the wire has it),
    unknown members ignored as before, text at most 4 KiB and numbers finite unless a field says
    otherwise."""

    model_config = ConfigDict(
        extra="ignore",
        populate_by_name=True,
        allow_inf_nan=False,
        str_max_length=MAX_TEXT,
    )

    def wire(self) -> dict[str, Any]:
        """The body as sent (wire names, only the members given; extra ones kept where allowed)."""
        return self.model_dump(by_alias=True, exclude_unset=True, mode="json")


class OpenRequestModel(RequestModel):
    """A body handed on whole to a service that checks it against its own schema (a trust list, a
    recognition policy, a DCP query): the documented members are typed, the others are kept for
    that check, which refuses them by name."""

    model_config = ConfigDict(extra="allow")
