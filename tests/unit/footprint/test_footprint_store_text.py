"""``PactService.store_document`` is a write path of its own: the bridge stores the footprint a hub
answered (``POST /v1/bridge/pact``) and the v2.3 API stores its conversion, neither through the
node's :func:`~batpass.http.require_json`. Text no store can hold — a lone surrogate (no UTF-8
encoding: both stores) or NUL (PostgreSQL text refuses it) — is refused naming the member and
the rule, on both stores, and whatever was stored before stays as it was."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from footprint_testkit import FOOTPRINT
from sqlalchemy import Engine, select

from batpass.core.errors import InvalidInput
from batpass.core.unicode import NUL_TEXT_RULE, SCALAR_TEXT_RULE
from batpass.footprint import MIGRATIONS_DIR, PactService
from batpass.footprint._sql import pact_footprint_keys, pact_footprints

LONE = "\ud800"
NUL = "\x00"


def _spoilt(path: tuple[Any, ...], text: str) -> dict[str, Any]:
    doc = copy.deepcopy(FOOTPRINT)
    node: Any = doc
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = text
    return doc


def _stored(engine: Engine) -> tuple[list[Any], list[Any]]:
    with engine.connect() as conn:
        docs = [tuple(r) for r in conn.execute(select(pact_footprints.c.id, pact_footprints.c.document))]
        keys = sorted(tuple(r) for r in conn.execute(select(pact_footprint_keys.c.kind, pact_footprint_keys.c.value)))
    return docs, keys


@pytest.mark.parametrize(
    ("path", "text", "rule"),
    [
        (("companyName",), "Acme" + LONE, SCALAR_TEXT_RULE),
        (("productIds", 0), "urn:gtin:1" + LONE, SCALAR_TEXT_RULE),
        (("pcf", "note"), LONE, SCALAR_TEXT_RULE),
        (("productIds", 0), "urn:gtin:1" + NUL, NUL_TEXT_RULE),
        (("productDescription",), "Diesel" + NUL, NUL_TEXT_RULE),
        (("pcf", "geographyCountry"), "D" + NUL + "E", NUL_TEXT_RULE),
    ],
    ids=["surrogate-top", "surrogate-key", "surrogate-nested", "nul-key", "nul-top", "nul-nested-key"],
)
def test_text_no_store_holds_is_refused_naming_member_and_rule_and_the_stored_footprint_stays(
    make_store: Callable[[Sequence[Path]], Engine], path: tuple[Any, ...], text: str, rule: str
) -> None:
    """Before: a lone surrogate reached the driver (SQLite: UnicodeEncodeError; PostgreSQL: a
    driver error), NUL in a key was stored on SQLite and refused by PostgreSQL's driver — an
    error without field or rule (a 500 over HTTP)."""
    svc = PactService(make_store([MIGRATIONS_DIR]), base_url="https://pact.example")
    svc.store_document(FOOTPRINT)
    before = _stored(svc.engine)
    with pytest.raises(InvalidInput) as info:
        svc.store_document(_spoilt(path, text))  # the same id: a replacement
    assert (info.value.field, info.value.rule) == (".".join(map(str, path)), rule)
    assert _stored(svc.engine) == before


def test_a_v2_document_with_such_text_is_refused_before_conversion(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    from batpass.footprint._pact_v2_api import PactV2Api

    svc = PactService(make_store([MIGRATIONS_DIR]), base_url="https://pact.example")
    with pytest.raises(InvalidInput) as info:
        PactV2Api(svc).store_v2_document({"id": FOOTPRINT["id"], "specVersion": "2.3.0", "comment": "x" + NUL})
    assert (info.value.field, info.value.rule) == ("comment", NUL_TEXT_RULE)
    assert _stored(svc.engine) == ([], [])


def test_text_every_store_holds_is_kept_as_given(make_store: Callable[[Sequence[Path]], Engine]) -> None:
    """Unicode noncharacters (U+FFFE, U+FFFF, U+FDD0) and astral characters are scalar values:
    they encode in UTF-8 and both stores keep them, so they are not refused."""
    svc = PactService(make_store([MIGRATIONS_DIR]), base_url="https://pact.example")
    text = "a\ufffe\uffff\ufdd0\U0001f50b\u200b"
    svc.store_document(_spoilt(("productIds", 0), text))
    docs, keys = _stored(svc.engine)
    assert docs[0][1]["productIds"] == [text] and ("productId", text.lower()) in keys
