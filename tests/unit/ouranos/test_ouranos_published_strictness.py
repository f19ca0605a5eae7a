"""Where the hub answered other than the published Ouranos API (issue 23), each against the
published file itself (``_data/published-openapi.yaml``):

- a buyer whose supplier answered but withholds its CFP gets the two ``*Response`` entries with
  ``ghgEmission: null`` (example ``requestCfpNull``), and with the ratings nulled too while
  TOTALDQR is withheld (``requestDqrNull``) — not an empty list; a withheld certificate answers
  its entry with ``null`` description and files (``cfpCertification`` ``requestCfpNull``);
- every query parameter given must carry a value (OpenAPI 3.0 ``allowEmptyValue`` defaults to
  false) and be given once; enumerations (``statusTarget``, ``parentFlag``,
  ``notificationType``) take only their listed values; ``operatorIds=`` (empty) is refused rather
  than read as "my own operator" (a single object where the published operation answers an array).
"""

from __future__ import annotations

from typing import Any

import pytest
from ouranos_testkit import Api
from test_ouranos_api import AUTH, DT, _cfp, _part, _request, _structure

from batpass.ouranos._wire import published_document

DOC = published_document()


def _example(path: str, name: str) -> list[dict[str, Any]]:
    ex = DOC["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["examples"][name]["value"]
    assert isinstance(ex, list)
    return ex


CFP_PATH = "/api/v1/datatransport?dataTarget=cfp&traceIds={uuid}"
CERT_PATH = "/api/v1/datatransport?dataTarget=cfpCertification&traceId={uuid}"


def _traded(apis: list[Api]) -> tuple[Api, Api, str, str]:
    """A buyer's child part in an accepted trade whose supplier answered its CFP."""
    buyer, supplier, _ = apis
    _, child = _structure(buyer)
    req = _request(buyer, supplier, child)
    s_part = supplier.put(DT, _part(supplier, "CAM", terminatedFlag=True), dataTarget="parts").json()["traceId"]
    r = supplier.put(DT, None, dataTarget="tradeResponse", tradeId=req["tradeModel"]["tradeId"], traceId=s_part)
    assert r.status_code == 201, r.text
    assert supplier.put(DT, _cfp(s_part, (1.5, 2, 0, 0)), dataTarget="cfp").status_code == 201
    return buyer, supplier, child, s_part


def _release(supplier: Api, buyer: Api, s_part: str, group: str) -> None:
    r = supplier.put(
        DT,
        {
            "traceId": s_part,
            "releasedToOperatorId": buyer.op.operator_id,
            "acl": [{"aclItemGroup": group, "releasedFlag": True}],
        },
        dataTarget="cfpAcl",
    )
    assert r.status_code == 201, r.text


def _shape(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What the published example fixes: the members, their order of cfpType, and where null stands."""
    return [
        (
            tuple(sorted(r)),
            r["cfpType"],
            r["dqrType"],
            r["ghgEmission"] is None,
            tuple(sorted((k, v is None) for k, v in r["dqrValue"].items())),
        )
        for r in rows
    ]


def test_a_withheld_supplier_cfp_answers_the_response_entries_with_null_emission(apis: list[Api]) -> None:
    buyer, supplier, child, s_part = _traded(apis)
    both_withheld = buyer.get(DT, dataTarget="cfp", traceIds=child)
    assert both_withheld.status_code == 200
    rows = both_withheld.json()
    assert [(r["cfpType"], r["ghgEmission"], r["ghgDeclaredUnit"]) for r in rows] == [
        ("preProductionResponse", None, "kgCO2e/kilogram"),
        ("mainProductionResponse", None, "kgCO2e/kilogram"),
    ]
    assert all(r["traceId"] == child and set(r["dqrValue"].values()) == {None} for r in rows)

    _release(supplier, buyer, s_part, "TOTALDQR")  # ratings released, values withheld: requestCfpNull
    rows = buyer.get(DT, dataTarget="cfp", traceIds=child).json()
    assert _shape(rows) == _shape(_example(CFP_PATH, "requestCfpNull"))
    assert [r["dqrValue"] for r in rows] == [{"TeR": 1, "GeR": 2, "TiR": 3}] * 2

    _release(supplier, buyer, s_part, "TOTALCFP")  # both released: the published "request" example
    rows = buyer.get(DT, dataTarget="cfp", traceIds=child).json()
    assert _shape(rows) == _shape(_example(CFP_PATH, "request"))
    assert [r["ghgEmission"] for r in rows] == [1.5, 2]


def test_values_released_without_ratings_answer_as_request_dqr_null(apis: list[Api]) -> None:
    buyer, supplier, child, s_part = _traded(apis)
    _release(supplier, buyer, s_part, "TOTALCFP")
    rows = buyer.get(DT, dataTarget="cfp", traceIds=child).json()
    assert _shape(rows) == _shape(_example(CFP_PATH, "requestDqrNull"))


def test_nothing_is_shown_before_the_supplier_answers_nor_to_anyone_else(apis: list[Api]) -> None:
    buyer, supplier, third = apis
    _, child = _structure(buyer)
    req = _request(buyer, supplier, child)
    assert buyer.get(DT, dataTarget="cfp", traceIds=child).json() == []  # requested, not accepted
    s_part = supplier.put(DT, _part(supplier, "CAM"), dataTarget="parts").json()["traceId"]
    supplier.put(DT, None, dataTarget="tradeResponse", tradeId=req["tradeModel"]["tradeId"], traceId=s_part)
    assert buyer.get(DT, dataTarget="cfp", traceIds=child).json() == []  # accepted, no CFP yet ("zero")
    supplier.put(DT, _cfp(s_part, (1, 1, 0, 0)), dataTarget="cfp")
    assert third.get(DT, dataTarget="cfp", traceIds=child).json() == []
    assert buyer.get(DT, dataTarget="cfp", traceIds=s_part).json() == []


def test_a_withheld_certificate_answers_its_entry_with_null_description_and_files(apis: list[Api]) -> None:
    buyer, supplier, child, s_part = _traded(apis)
    up = supplier.client.put(
        DT,
        params={"dataTarget": "cfpCertificationFile", "fileName": "cert.pdf"},
        content=b"%PDF-1.4 certificate",
        headers=supplier.headers,
    )
    assert up.status_code == 201, up.text
    info = supplier.put(
        DT,
        {
            "traceId": s_part,
            "cfpCertificationDescription": "ISO 14067 verified",
            "cfpCertificationFileInfo": [{"fileId": up.json()["fileId"]}],
        },
        dataTarget="cfpCertificationInfo",
    )
    assert info.status_code == 201, info.text
    rows = buyer.get(DT, dataTarget="cfpCertification", traceId=child).json()
    [published] = _example(CERT_PATH, "requestCfpNull")
    assert [sorted(r) for r in rows] == [sorted(published)]
    assert rows == [
        {
            "cfpCertificationId": info.json()["cfpCertificationId"],
            "traceId": child,
            "cfpCertificationDescription": None,
            "cfpCertificationFileInfo": None,
        }
    ]
    assert "ISO 14067" not in str(rows) and "cert.pdf" not in str(rows)


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        (DT, {"dataTarget": "status", "statusTarget": ""}, "statusTarget"),
        (DT, {"dataTarget": "status", "statusTarget": "request"}, "statusTarget"),
        (DT, {"dataTarget": "status", "statusId": ""}, "statusId"),
        (DT, {"dataTarget": "status", "traceId": ""}, "traceId"),
        (DT, {"dataTarget": "status", "limit": ""}, "limit"),
        (DT, {"dataTarget": "parts", "parentFlag": ""}, "parentFlag"),
        (DT, {"dataTarget": "parts", "parentFlag": "yes"}, "parentFlag"),
        (DT, {"dataTarget": "parts", "partsName": ""}, "partsName"),
        (DT, {"dataTarget": "parts", "plantId": ""}, "plantId"),
        (DT, {"dataTarget": "parts", "traceId": ""}, "traceId"),
        (DT, {"dataTarget": "parts", "after": ""}, "after"),
        (DT, {"dataTarget": "tradeRequest", "traceIds": ""}, "traceIds"),
        (DT, {"dataTarget": "tradeRequest", "traceIds": ","}, "traceIds"),
        (DT, {"dataTarget": "tradeResponse", "limit": ""}, "limit"),
        (DT, {"dataTarget": "cfp", "traceIds": ""}, "traceIds"),
        (DT, {"dataTarget": "notifications", "notificationType": ""}, "notificationType"),
        (DT, {"dataTarget": ""}, "dataTarget"),
        (AUTH, {"dataTarget": "operator", "operatorIds": ""}, "operatorIds"),
        (AUTH, {"dataTarget": "operator", "openOperatorId": ""}, "openOperatorId"),
    ],
)
def test_an_empty_or_unlisted_query_value_is_refused_naming_the_parameter(
    apis: list[Api], path: str, params: dict[str, str], field: str
) -> None:
    r = apis[0].get(path, **params)
    assert r.status_code == 400, r.text
    body = r.json()
    assert set(body) == {"code", "message", "detail"} and body["code"].endswith("BadRequest")
    assert field in body["message"] and f"field: {field}" in body["detail"]


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        (DT, "dataTarget=status&statusTarget=REQUEST&statusTarget=RESPONSE", "statusTarget"),
        (DT, "dataTarget=parts&dataTarget=cfp", "dataTarget"),
        (AUTH, "dataTarget=operator&operatorIds={a}&operatorIds={a}", "operatorIds"),
    ],
)
def test_a_query_parameter_given_twice_is_refused(apis: list[Api], path: str, query: str, field: str) -> None:
    a = apis[0]
    r = a.client.get(f"{path}?{query.format(a=a.op.operator_id)}", headers=a.headers)
    assert r.status_code == 400, r.text
    assert field in r.json()["message"]


def test_operator_ids_always_answer_the_published_array(apis: list[Api]) -> None:
    a = apis[0]
    one = a.get(AUTH, dataTarget="operator", operatorIds=a.op.operator_id)
    assert one.status_code == 200 and [o["operatorId"] for o in one.json()] == [a.op.operator_id]
    own = a.get(AUTH, dataTarget="operator")
    assert own.status_code == 200 and own.json()["operatorId"] == a.op.operator_id  # the published own-record object


def _published(path: str, method: str, code: str) -> Any:
    content = DOC["paths"][path][method]["responses"][code]["content"]["application/json"]
    return content["example"] if "example" in content else content["examples"]


def test_a_response_entry_is_not_the_readers_cfp_record(apis: list[Api]) -> None:
    """The published ``request``/``requestCfpNull``/``requestDqrNull`` examples give every
    ``*Response`` entry ``cfpId: null``, also when the buyer registered its own CFP for the part."""
    buyer, supplier, child, s_part = _traded(apis)
    own = buyer.put(DT, _cfp(child, (0, 0, 0, 0)), dataTarget="cfp")
    assert own.status_code == 201, own.text
    _release(supplier, buyer, s_part, "TOTALCFP")
    rows = buyer.get(DT, dataTarget="cfp", traceIds=child).json()
    assert {r["cfpType"]: r["cfpId"] is None for r in rows} == {
        "preProduction": False,
        "mainProduction": False,
        "preComponent": False,
        "mainComponent": False,
        "preProductionResponse": True,
        "mainProductionResponse": True,
    }


def test_trade_request_and_trade_response_carry_the_published_request_status(apis: list[Api]) -> None:
    _buyer, supplier, child, _s_part = _traded(apis)
    put_example = _published("/api/v1/datatransport?dataTarget=tradeRequest", "put", "201")
    third = apis[2]
    _, child2 = _structure(third)
    created = _request(third, supplier, child2)["statusModel"]["requestStatus"]
    assert created == put_example["statusModel"]["requestStatus"]  # four counts, all null, nothing else

    [listed] = _published("/api/v1/datatransport?dataTarget=tradeResponse", "get", "200")["overOne"]["value"]
    received = supplier.get(DT, dataTarget="tradeResponse").json()
    answered = next(r for r in received if r["partsModel"]["traceId"] == child)
    assert sorted(answered["statusModel"]["requestStatus"]) == sorted(listed["statusModel"]["requestStatus"])
    status_id = answered["statusModel"]["statusId"]
    [seen] = supplier.get(DT, dataTarget="status", statusTarget="RESPONSE", statusId=status_id).json()
    assert answered["statusModel"]["requestStatus"] == seen["requestStatus"]
    assert seen["requestStatus"]["tradeTreeStatus"] == "TERMINATED" and seen["requestStatus"]["tradesCount"] is not None


def _members(v: Any, path: str = "") -> set[str]:
    """Every member path of a JSON value (``[]`` for list items)."""
    out: set[str] = set()
    if isinstance(v, dict):
        for k, x in v.items():
            out |= {f"{path}.{k}"} | _members(x, f"{path}.{k}")
    elif isinstance(v, list):
        for x in v:
            out |= _members(x, f"{path}[]")
    return out


def _example_members(path: str, method: str) -> set[str]:
    content = DOC["paths"][path][method]["responses"]["200" if method == "get" else "201"]["content"]
    c = content["application/json"]
    values = [c["example"]] if "example" in c else [e["value"] for e in c["examples"].values()]
    return set().union(*(_members(v) for v in values))


def test_every_answer_has_the_members_its_published_examples_show(apis: list[Api]) -> None:
    """After the tutorials' flow, each published read (and write) answers with exactly the
    members its published examples show — none missing, none added."""
    buyer, supplier, child, s_part = _traded(apis)
    _release(supplier, buyer, s_part, "TOTALCFP")
    parent = buyer.get(DT, dataTarget="parts", parentFlag="true").json()[0]["traceId"]
    assert buyer.put(DT, _cfp(parent, (1, 1, 0, 0)), dataTarget="cfp").status_code == 201
    p = "/api/v1/datatransport?dataTarget="
    answers = {
        ("/api/v1/authInfo?dataTarget=operator", "get"): buyer.get(AUTH, dataTarget="operator"),
        ("/api/v1/authInfo?dataTarget=plant", "get"): buyer.get(AUTH, dataTarget="plant"),
        ("/api/v1/authInfo?dataTarget=operator&operatorIds={uuid}", "get"): buyer.get(
            AUTH, dataTarget="operator", operatorIds=supplier.op.operator_id
        ),
        (p + "parts", "get"): buyer.get(DT, dataTarget="parts"),
        (p + "partsStructure&traceId={uuid}", "get"): buyer.get(DT, dataTarget="partsStructure", traceId=parent),
        (p + "status", "get"): buyer.get(DT, dataTarget="status"),
        (p + "tradeRequest", "get"): buyer.get(DT, dataTarget="tradeRequest"),
        (p + "tradeResponse", "get"): supplier.get(DT, dataTarget="tradeResponse"),
        (p + "cfp&traceIds={uuid}", "get"): buyer.get(DT, dataTarget="cfp", traceIds=f"{parent},{child}"),
    }
    for (path, method), r in answers.items():
        assert r.status_code == 200, (path, r.text)
        assert r.json(), path
        assert _members(r.json()) == _example_members(path, method), path
