"""The node's outbound clients carry the id of the request being handled (``X-Request-Id``)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from batpass.core.logs import REQUEST_ID


def test_the_nodes_clients_forward_the_request_id(node_client: tuple[Any, str]) -> None:
    client, _key = node_client
    ctx = client.app.state.ctx
    seen: list[httpx.Request] = []

    def capture(request: httpx.Request) -> None:
        seen.append(request)
        raise httpx.ConnectError("captured", request=request)  # nothing leaves the test

    ctx.sync_client.event_hooks["request"].append(capture)
    token = REQUEST_ID.set("req-client-1")
    try:
        with pytest.raises(httpx.ConnectError):
            ctx.sync_client.get("https://partner.example/x")
    finally:
        REQUEST_ID.reset(token)
        ctx.sync_client.event_hooks["request"].remove(capture)
    assert seen[0].headers["x-request-id"] == "req-client-1"
    assert any(getattr(h, "__name__", "") == "_astamp" for h in ctx.client.event_hooks["request"])
