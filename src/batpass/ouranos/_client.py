"""A typed client of the published Ouranos data transaction API (and the hub's extensions).

It speaks only the published wire shapes, so it works against any implementation of the API,
this hub or another. Errors come back as batpass errors carrying the server's ``{code, message,
detail}``; lists follow ``Link: <...>; rel="next"`` pages.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from typing import Any, cast

import httpx

from batpass.core.errors import (
    BatpassError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
    UpstreamUnavailable,
)

__all__ = ["OuranosClient"]

JSON = dict[str, Any]
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_BY_STATUS: dict[int, type[BatpassError]] = {
    400: InvalidInput,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
}
DT = "/api/v1/datatransport"
AUTH = "/api/v1/authInfo"


class OuranosClient:
    """One operator's session. ``http`` is any ``httpx.Client`` (base URL, TLS trust and
    transport are the caller's: a real hub, or an in-process app in tests)."""

    def __init__(self, http: httpx.Client, *, api_key: str) -> None:
        self.http = http
        self.api_key = api_key
        self.access_token: str | None = None
        self.refresh_token: str | None = None
        self.last_track: str | None = None

    # -- plumbing ---------------------------------------------------------------------------------

    def _headers(self, *, auth: bool = True) -> dict[str, str]:
        h = {"apiKey": self.api_key}
        if auth and self.access_token:
            h["Authorization"] = f"Bearer {self.access_token}"
        return h

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        auth: bool = True,
    ) -> httpx.Response:
        try:
            r = self.http.request(
                method, url, params=params, json=json, content=content, headers=self._headers(auth=auth)
            )
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(
                f"Ouranos API at {self.http.base_url} unreachable: {exc}", rule="transport"
            ) from exc
        self.last_track = r.headers.get("x-track")
        if r.status_code >= 400:
            try:
                body = r.json()
                text = f"{body.get('code')}: {body.get('message')} ({body.get('detail')})"
            except ValueError:
                text = r.text[:300]
            cls = _BY_STATUS.get(r.status_code, UpstreamUnavailable if r.status_code >= 500 else BatpassError)
            raise cls(f"Ouranos API {method} {url} answered {r.status_code}: {text}", rule="Ouranos API error")
        return r

    def _pages(self, params: dict[str, str]) -> Iterator[JSON]:
        r = self._send("GET", DT, params=params)
        while True:
            yield from cast(list[JSON], r.json())
            m = _NEXT.search(r.headers.get("link", ""))
            if not m:
                return
            r = self._send("GET", m.group(1))

    # -- auth -------------------------------------------------------------------------------------

    def login(self, account_id: str, password: str) -> None:
        body = self._send(
            "POST", "/auth/login", json={"operatorAccountId": account_id, "accountPassword": password}, auth=False
        ).json()
        self.access_token, self.refresh_token = body["accessToken"], body["refreshToken"]

    def refresh(self) -> None:
        if not self.refresh_token:
            raise Unauthorized("log in first", rule="POST /auth/login")
        self.access_token = self._send(
            "POST", "/auth/refresh", json={"refreshToken": self.refresh_token}, auth=False
        ).json()["accessToken"]

    def change_password(self, new_password: str) -> None:
        self._send("POST", "/auth/change", json={"newPassword": new_password})

    # -- authInfo ---------------------------------------------------------------------------------

    def operator(self, *, open_operator_id: str | None = None) -> JSON:
        params = {"dataTarget": "operator", **({"openOperatorId": open_operator_id} if open_operator_id else {})}
        return cast(JSON, self._send("GET", AUTH, params=params).json())

    def operators(self, operator_ids: Sequence[str]) -> list[JSON]:
        if not operator_ids:  # the API refuses a blank operatorIds; no ids, no operators
            return []
        return cast(
            list[JSON],
            self._send("GET", AUTH, params={"dataTarget": "operator", "operatorIds": ",".join(operator_ids)}).json(),
        )

    def put_operator(self, model: JSON) -> JSON:
        return cast(JSON, self._send("PUT", AUTH, params={"dataTarget": "operator"}, json=model).json())

    def plants(self) -> list[JSON]:
        return cast(list[JSON], self._send("GET", AUTH, params={"dataTarget": "plant"}).json())

    def put_plant(self, model: JSON) -> JSON:
        return cast(JSON, self._send("PUT", AUTH, params={"dataTarget": "plant"}, json=model).json())

    # -- datatransport ----------------------------------------------------------------------------

    def put(self, data_target: str, body: Any, **params: str) -> Any:
        """``PUT /api/v1/datatransport?dataTarget=...`` with a published (or extension) model."""
        r = self._send("PUT", DT, params={"dataTarget": data_target, **params}, json=body)
        return r.json() if r.content else None

    def get(self, data_target: str, **params: str) -> Any:
        return self._send("GET", DT, params={"dataTarget": data_target, **params}).json()

    def pages(self, data_target: str, **params: str) -> Iterator[JSON]:
        """Every item of a paged list (parts, tradeRequest, tradeResponse, status, notifications)."""
        return self._pages({"dataTarget": data_target, **params})

    def delete_part(self, trace_id: str) -> None:
        self._send("DELETE", DT, params={"dataTarget": "parts", "traceId": trace_id})

    def cfp(self, trace_ids: Sequence[str]) -> list[JSON]:
        return cast(list[JSON], self.get("cfp", traceIds=",".join(trace_ids)))

    def put_cfp(self, entries: Sequence[JSON]) -> list[JSON]:
        return cast(list[JSON], self.put("cfp", list(entries)))

    def accept(self, trade_id: str, trace_id: str) -> JSON:
        return cast(JSON, self.put("tradeResponse", None, tradeId=trade_id, traceId=trace_id))

    def release_cfp(self, trace_id: str, to_operator_id: str, *, cfp: bool = True, dqr: bool = True) -> JSON:
        """Extension ``cfpAcl``."""
        acl = [{"aclItemGroup": "TOTALCFP", "releasedFlag": cfp}, {"aclItemGroup": "TOTALDQR", "releasedFlag": dqr}]
        return cast(JSON, self.put("cfpAcl", {"traceId": trace_id, "releasedToOperatorId": to_operator_id, "acl": acl}))

    def upload_certificate(self, file_name: str, content: bytes) -> JSON:
        """Extension ``cfpCertificationFile``."""
        r = self._send("PUT", DT, params={"dataTarget": "cfpCertificationFile", "fileName": file_name}, content=content)
        return cast(JSON, r.json())

    def download_certificate(self, file_operator_id: str, file_id: str) -> bytes:
        params = {"dataTarget": "cfpCertificationFile", "fileId": file_id, "fileOperatorId": file_operator_id}
        return self._send("GET", DT, params=params).content

    def release_to_catenax(self, partner_bpnl: str, scopes: Sequence[str], *, released: bool = True) -> JSON:
        """Extension: consent that the hub's bridge offers ``scopes`` of this operator's data to
        one Catena-X partner (``PUT /v1/ouranos/bridge/releases``)."""
        body = {"partnerBpnl": partner_bpnl, "scopes": list(scopes), "released": released}
        out: JSON = self._send("PUT", "/v1/ouranos/bridge/releases", json=body).json()
        return out

    def put_site(self, site: JSON) -> JSON:
        """Extension: register (or replace) one of this operator's sites (``PUT /v1/ouranos/sites``)."""
        out: JSON = self._send("PUT", "/v1/ouranos/sites", json=site).json()
        return out

    def release_sites(self, to_operator_id: str, *, released: bool = True) -> JSON:
        """Extension: release this operator's site register to another hosted operator (or withdraw it)."""
        body = {"releasedToOperatorId": to_operator_id, "releasedFlag": released}
        out: JSON = self._send("PUT", "/v1/ouranos/sites/releases", json=body).json()
        return out

    def sites_of(self, owner_operator_id: str) -> JSON:
        """Extension: another operator's site register, if it released it to this operator
        (``GET /v1/ouranos/operators/{id}/sites``; without the release: ``Forbidden``)."""
        out: JSON = self._send("GET", f"/v1/ouranos/operators/{owner_operator_id}/sites").json()
        return out

    def request_cfp(
        self, *, buyer_operator_id: str, child_trace_id: str, supplier_operator_id: str, message: str, due: dt.date
    ) -> JSON:
        """``PUT tradeRequest``: ask a supplier for the CFP of a procured part (the buyer's child
        part ``child_trace_id``). Returns ``{"tradeId", "statusId"}``."""
        body = {
            "statusModel": {
                "message": message,
                "replyMessage": None,
                "requestStatus": {},
                "requestType": "CFP",
                "statusId": None,
                "tradeId": None,
                "responseDueDate": due.isoformat(),
            },
            "tradeModel": {
                "downstreamOperatorId": buyer_operator_id,
                "downstreamTraceId": child_trace_id,
                "tradeId": None,
                "upstreamOperatorId": supplier_operator_id,
                "upstreamTraceId": None,
            },
        }
        t = self.put("tradeRequest", body)
        return {"tradeId": t["tradeModel"]["tradeId"], "statusId": t["statusModel"]["statusId"]}

    def cancel_request(self, trade_id: str, status_id: str) -> JSON:
        """``PUT status``: the buyer cancels its request (``cfpResponseStatus`` CANCEL)."""
        body = {
            "statusId": status_id,
            "tradeId": trade_id,
            "message": None,
            "replyMessage": None,
            "requestType": "CFP",
            "responseDueDate": None,
            "requestStatus": {"cfpResponseStatus": "CANCEL", "tradeTreeStatus": "UNTERMINATED"},
        }
        out: JSON = self.put("status", body)
        return out
