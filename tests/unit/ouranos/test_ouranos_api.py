"""The published API end to end, in process, on SQLite and PostgreSQL: the tutorials' flow
(parts, structure, request, link, CFP, release), the platform rules and bad input."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ouranos_testkit import Api

DT = "/api/v1/datatransport"
AUTH = "/api/v1/authInfo"


def _part(api: Api, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "amountRequired": None,
        "amountRequiredUnit": "kilogram",
        "operatorId": api.op.operator_id,
        "partsName": name,
        "plantId": api.op.plant_id,
        "supportPartsName": "modelA",
        "terminatedFlag": False,
        "traceId": None,
        "partsLabelName": None,
        "partsAddInfo1": None,
        "partsAddInfo2": None,
        "partsAddInfo3": None,
        **extra,
    }


def _cfp(
    trace: str, values: tuple[Any, Any, Any, Any], *, unit: str = "kgCO2e/kilogram", cfp_id: str | None = None
) -> list[dict[str, Any]]:
    kinds = [
        ("preProduction", "preProcessing"),
        ("mainProduction", "mainProcessing"),
        ("preComponent", "preProcessing"),
        ("mainComponent", "mainProcessing"),
    ]
    return [
        {
            "cfpId": cfp_id,
            "traceId": trace,
            "ghgEmission": v,
            "ghgDeclaredUnit": unit,
            "cfpType": c,
            "dqrType": d,
            "dqrValue": {"TeR": 1, "GeR": 2, "TiR": 3},
        }
        for (c, d), v in zip(kinds, values, strict=True)
    ]


def _structure(buyer: Api, amount: Any = 5) -> tuple[str, str]:
    r = buyer.put(
        DT,
        {
            "parentPartsModel": _part(buyer, "Cell"),
            "childrenPartsModel": [_part(buyer, "Cathode", amountRequired=amount)],
        },
        dataTarget="partsStructure",
    )
    assert r.status_code == 201, r.text
    body = r.json()
    return body["parentPartsModel"]["traceId"], body["childrenPartsModel"][0]["traceId"]


def _request(buyer: Api, supplier: Api, child: str) -> dict[str, Any]:
    r = buyer.put(
        DT,
        {
            "statusModel": {
                "message": "please answer",
                "replyMessage": None,
                "requestStatus": {},
                "requestType": "CFP",
                "statusId": None,
                "tradeId": None,
                "responseDueDate": "2030-12-31",
            },
            "tradeModel": {
                "downstreamOperatorId": buyer.op.operator_id,
                "downstreamTraceId": child,
                "tradeId": None,
                "upstreamOperatorId": supplier.op.operator_id,
                "upstreamTraceId": None,
            },
        },
        dataTarget="tradeRequest",
    )
    assert r.status_code == 201, r.text
    assert r.headers["x-track"]
    body: dict[str, Any] = r.json()
    return body


def _values(rows: list[dict[str, Any]]) -> dict[str, Decimal | None]:
    return {r["cfpType"]: None if r["ghgEmission"] is None else Decimal(str(r["ghgEmission"])) for r in rows}


def test_tutorial_flow_request_accept_answer_release(apis: list[Api]) -> None:
    buyer, supplier = apis[0], apis[1]
    r = buyer.get(AUTH, dataTarget="operator", openOperatorId=supplier.op.open_operator_id)
    assert r.status_code == 200 and r.json()["operatorId"] == supplier.op.operator_id
    parent, child = _structure(buyer, amount=5)
    req = _request(buyer, supplier, child)
    trade_id, status_id = req["tradeModel"]["tradeId"], req["statusModel"]["statusId"]

    # the supplier sees the request and the buyer's part, never the buyer's amount
    got = supplier.get(DT, dataTarget="tradeResponse")
    assert got.status_code == 200
    [item] = got.json()
    assert item["partsModel"]["traceId"] == child and item["partsModel"]["amountRequired"] is None
    assert "5" not in str(item["partsModel"]["amountRequired"])

    # no trade link until the supplier accepts with its own part
    assert buyer.get(DT, dataTarget="tradeRequest").json()[0]["upstreamTraceId"] is None
    s_part = supplier.put(DT, _part(supplier, "CAM", terminatedFlag=True), dataTarget="parts").json()["traceId"]
    assert supplier.put(DT, None, dataTarget="tradeResponse", tradeId=trade_id, traceId=s_part).status_code == 201
    assert buyer.get(DT, dataTarget="tradeRequest").json()[0]["upstreamTraceId"] == s_part

    # the supplier answers: rounding up at the 6th decimal
    r = supplier.put(DT, _cfp(s_part, (1.0000001, 2, 0.5, 0)), dataTarget="cfp")
    assert r.status_code == 201, r.text
    assert _values(r.json())["preProduction"] == Decimal("1.00001")
    st = buyer.get(DT, dataTarget="status", statusTarget="REQUEST").json()[0]
    assert st["statusId"] == status_id and st["requestStatus"]["cfpResponseStatus"] == "COMPLETED"
    assert st["requestStatus"]["tradeTreeStatus"] == "TERMINATED"

    # no value flows before the release: the answer's entries stand with null (requestCfpNull)
    buyer.put(DT, _cfp(parent, (10, 20, 0, 0)), dataTarget="cfp")
    rows = buyer.get(DT, dataTarget="cfp", traceIds=f"{parent},{child}").json()
    assert _values(rows)["preProductionResponse"] is None and _values(rows)["mainProductionResponse"] is None
    assert "1.00001" not in str(rows)
    assert _values(rows)["preComponentTotal"] == 0

    rel = supplier.put(
        DT,
        {
            "traceId": s_part,
            "releasedToOperatorId": buyer.op.operator_id,
            "acl": [{"aclItemGroup": "TOTALCFP", "releasedFlag": True}],
        },
        dataTarget="cfpAcl",
    )
    assert rel.status_code == 201, rel.text
    rows = buyer.get(DT, dataTarget="cfp", traceIds=f"{parent},{child}").json()
    v = _values(rows)
    assert v["preProductionResponse"] == Decimal("1.50001") and v["mainProductionResponse"] == 2
    # parent total = own + amount × supplier total, per stage
    assert v["preComponentTotal"] == Decimal("7.50005") and v["mainComponentTotal"] == 10
    assert v["preProductionTotal"] == 10
    # ratings only once TOTALDQR is released
    resp = next(r for r in rows if r["cfpType"] == "preProductionResponse")
    assert resp["dqrValue"] == {"TeR": None, "GeR": None, "TiR": None}
    supplier.put(
        DT,
        {
            "traceId": s_part,
            "releasedToOperatorId": buyer.op.operator_id,
            "acl": [{"aclItemGroup": "TOTALDQR", "releasedFlag": True}],
        },
        dataTarget="cfpAcl",
    )
    rows = buyer.get(DT, dataTarget="cfp", traceIds=child).json()
    resp = next(r for r in rows if r["cfpType"] == "preProductionResponse")
    assert resp["dqrValue"] == {"TeR": 1, "GeR": 2, "TiR": 3}

    # a third operator sees none of it, and the buyer cannot read the supplier's part directly
    assert apis[2].get(DT, dataTarget="cfp", traceIds=s_part).json() == []
    assert buyer.get(DT, dataTarget="cfp", traceIds=s_part).json() == []

    kinds = [n["notificationType"] for n in buyer.get(DT, dataTarget="notifications").json()]
    assert "CFP_RESPONSED" in kinds
    assert [n["notificationType"] for n in supplier.get(DT, dataTarget="notifications").json()] == ["REQUEST_NEW"]


def test_certificate_files_released_per_buyer(apis: list[Api]) -> None:
    buyer, supplier, other = apis
    _, child = _structure(buyer)
    req = _request(buyer, supplier, child)
    s_part = supplier.put(DT, _part(supplier, "CAM"), dataTarget="parts").json()["traceId"]
    supplier.put(DT, None, dataTarget="tradeResponse", tradeId=req["tradeModel"]["tradeId"], traceId=s_part)
    up = supplier.client.put(
        DT,
        params={"dataTarget": "cfpCertificationFile", "fileName": "cert.pdf"},
        content=b"%PDF-1.4 certificate",
        headers=supplier.headers,
    )
    assert up.status_code == 201, up.text
    f = up.json()
    bad = supplier.client.put(
        DT, params={"dataTarget": "cfpCertificationFile", "fileName": "x.exe"}, content=b"MZ", headers=supplier.headers
    )
    assert bad.status_code == 400 and bad.json()["code"].endswith("BadRequest")
    info = supplier.put(
        DT,
        {
            "traceId": s_part,
            "cfpCertificationDescription": "ISO 14067",
            "cfpCertificationFileInfo": [{"fileId": f["fileId"]}],
        },
        dataTarget="cfpCertificationInfo",
    )
    assert info.status_code == 201, info.text
    [withheld] = buyer.get(DT, dataTarget="cfpCertification", traceId=child).json()  # requestCfpNull
    assert withheld["cfpCertificationDescription"] is None and withheld["cfpCertificationFileInfo"] is None
    dl = {"dataTarget": "cfpCertificationFile", "fileId": f["fileId"], "fileOperatorId": supplier.op.operator_id}
    assert buyer.client.get(DT, params=dl, headers=buyer.headers).status_code == 404
    supplier.put(
        DT,
        {"traceId": s_part, "releasedToOperatorId": buyer.op.operator_id, "releasedFlag": True},
        dataTarget="cfpCertificationAcl",
    )
    certs = buyer.get(DT, dataTarget="cfpCertification", traceId=child).json()
    assert certs[0]["cfpCertificationFileInfo"][0]["fileName"] == "cert.pdf"
    got = buyer.client.get(DT, params=dl, headers=buyer.headers)
    assert got.status_code == 200 and got.content == b"%PDF-1.4 certificate"
    assert other.client.get(DT, params=dl, headers=other.headers).status_code == 404


def test_cancel_reject_and_closed_requests(apis: list[Api]) -> None:
    buyer, supplier, _ = apis
    _, child = _structure(buyer)
    req = _request(buyer, supplier, child)
    status_id, trade_id = req["statusModel"]["statusId"], req["tradeModel"]["tradeId"]
    body = {
        "statusId": status_id,
        "tradeId": trade_id,
        "message": None,
        "replyMessage": None,
        "requestType": "CFP",
        "responseDueDate": None,
        "requestStatus": {"cfpResponseStatus": "CANCEL", "tradeTreeStatus": "UNTERMINATED"},
    }
    # the supplier cannot cancel; the buyer can
    assert supplier.put(DT, body, dataTarget="status").status_code == 400
    assert buyer.put(DT, body, dataTarget="status").status_code == 201
    s_part = supplier.put(DT, _part(supplier, "CAM"), dataTarget="parts").json()["traceId"]
    r = supplier.put(DT, None, dataTarget="tradeResponse", tradeId=trade_id, traceId=s_part)
    assert r.status_code == 400 and r.json()["code"] == "[traceability] BadRequest"
    assert buyer.get(DT, dataTarget="tradeRequest").json()[0]["upstreamTraceId"] is None
    # a new request on the same part, rejected with a reply message
    req2 = _request(buyer, supplier, child)
    rej = {
        **body,
        "statusId": req2["statusModel"]["statusId"],
        "replyMessage": "not our part",
        "requestStatus": {"cfpResponseStatus": "REJECT", "tradeTreeStatus": "UNTERMINATED"},
    }
    assert buyer.put(DT, rej, dataTarget="status").status_code == 400
    assert supplier.put(DT, rej, dataTarget="status").status_code == 201
    st = buyer.get(DT, dataTarget="status", statusId=req2["statusModel"]["statusId"]).json()[0]
    assert st["replyMessage"] == "not our part" and st["requestStatus"]["cfpResponseStatus"] == "REJECT"


def test_bad_input_answers_in_the_published_shape_and_stores_nothing(apis: list[Api]) -> None:
    a, b, _ = apis
    parent, child = _structure(a)
    # incomplete CFP write
    r = a.put(DT, _cfp(parent, (1, 2, 3, 4))[:3], dataTarget="cfp")
    assert r.status_code == 400 and set(r.json()) == {"code", "message", "detail"}
    assert "mainComponent" in r.json()["message"]
    assert a.get(DT, dataTarget="cfp", traceIds=parent).json() == []
    # out of range and too many decimals beyond the maximum
    assert a.put(DT, _cfp(parent, (100000, 0, 0, 0)), dataTarget="cfp").status_code == 400
    assert a.put(DT, _cfp(parent, (99999.999991, 0, 0, 0)), dataTarget="cfp").status_code == 400
    # a write for another operator's part
    r = b.put(DT, _cfp(parent, (1, 2, 3, 4)), dataTarget="cfp")
    assert r.status_code == 404 and r.json()["code"].startswith("[")
    assert a.get(DT, dataTarget="cfp", traceIds=parent).json() == []
    # another operator's id in the body
    r = b.put(DT, _part(a, "X"), dataTarget="parts")
    assert r.status_code == 403 and r.json()["code"] == "[auth] AccessDenied"
    # OpenAPI limits
    r = a.put(DT, _part(a, "x" * 51), dataTarget="parts")
    assert r.status_code == 400 and "partsName" in r.json()["message"]
    r = a.put(DT, _part(a, "ok", amountRequiredUnit="gallon"), dataTarget="parts")
    assert r.status_code == 400
    assert a.get(DT, dataTarget="parts", limit=101).status_code == 400
    assert a.get(DT, dataTarget="bogus").json()["code"] == "[dataspace] BadRequest"
    r = a.put(
        AUTH,
        {
            "openPlantId": "12345",
            "operatorId": a.op.operator_id,
            "plantAddress": "x",
            "plantId": None,
            "plantName": "p",
            "plantAttribute": {},
        },
        dataTarget="plant",
    )
    assert r.status_code == 400 and r.json()["code"] == "[auth] BadRequest"
    # credentials
    assert a.client.get(DT, params={"dataTarget": "parts"}).status_code == 403
    r = a.client.get(DT, params={"dataTarget": "parts"}, headers={"apiKey": a.api_key})
    assert r.status_code == 401 and r.json()["code"] == "[auth] Unauthorized"
    r = a.client.get(DT, params={"dataTarget": "parts"}, headers={"apiKey": a.api_key, "Authorization": "Bearer x.y.z"})
    assert r.status_code == 401
    # refused deletions
    r = a.delete(DT, dataTarget="parts", traceId=child)
    assert r.status_code == 400
    assert len(a.get(DT, dataTarget="parts").json()) == 2
    # a parts structure is two levels: a child cannot become a parent
    r = a.put(
        DT,
        {"parentPartsModel": _part(a, "Cathode"), "childrenPartsModel": [_part(a, "Nickel", amountRequired=1)]},
        dataTarget="partsStructure",
    )
    assert r.status_code == 400 and "two levels" in r.json()["message"]


def test_pagination_link_and_delete(apis: list[Api]) -> None:
    a = apis[0]
    ids = [a.put(DT, _part(a, f"P{i:02d}"), dataTarget="parts").json()["traceId"] for i in range(5)]
    first = a.get(DT, dataTarget="parts", limit=2)
    assert [p["partsName"] for p in first.json()] == ["P00", "P01"]
    link = first.headers["link"]
    assert 'rel="next"' in link and "after=" in link
    nxt = a.client.get(link[1 : link.index(">")], headers=a.headers)
    assert [p["partsName"] for p in nxt.json()] == ["P02", "P03"]
    assert a.delete(DT, dataTarget="parts", traceId=ids[4]).status_code == 204
    assert "link" not in a.get(DT, dataTarget="parts", limit=4).headers
    # re-registering the same key mints a new traceId
    again = a.put(DT, _part(a, "P04"), dataTarget="parts").json()["traceId"]
    assert again != ids[4]


def test_auth_refresh_change_and_operator_did(apis: list[Api]) -> None:
    a = apis[0]
    login = a.client.post(
        "/auth/login",
        json={"operatorAccountId": a.op.account_id, "accountPassword": a.op.password},
        headers={"apiKey": a.api_key},
    ).json()
    r = a.client.post("/auth/refresh", json={"refreshToken": login["refreshToken"]}, headers={"apiKey": a.api_key})
    assert r.status_code == 201 and r.json()["accessToken"]
    assert (
        a.client.post(
            "/auth/login",
            json={"operatorAccountId": a.op.account_id, "accountPassword": "wrong"},
            headers={"apiKey": a.api_key},
        ).status_code
        == 401
    )
    assert a.client.post("/auth/change", json={"newPassword": "short"}, headers=a.headers).status_code == 400
    assert a.client.post("/auth/change", json={"newPassword": "NewPassw0rd!"}, headers=a.headers).status_code == 201
    assert (
        a.client.post(
            "/auth/login",
            json={"operatorAccountId": a.op.account_id, "accountPassword": "NewPassw0rd!"},
            headers={"apiKey": a.api_key},
        ).status_code
        == 201
    )
    doc = a.client.get(f"/operators/{a.op.operator_id}/did.json").json()
    assert doc["id"] == f"did:web:hub.test%3A8443:operators:{a.op.operator_id}"
    assert doc["verificationMethod"]
    ops = a.get(AUTH, dataTarget="operator", operatorIds=",".join(x.op.operator_id for x in apis)).json()
    assert len(ops) == 3
