"""A stopping one-worker node (``batpass.http.serving.NodeServer``, what ``batpass serve`` runs):
a request in flight when the stop comes is still answered in full, and a partner's idle
keep-alive TLS connection (a pooled client that reads nothing between requests, so it never
answers the server's ``close_notify``) does not hold the stop for uvicorn's graceful timeout."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import trustme
import uvicorn

from batpass.http.serving import NodeServer

BODY = b"x" * 200_000  # several TLS records: written while the server stops


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/slow":
        await asyncio.sleep(0.8)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": BODY})


def _stop_with_idle_and_in_flight(server_class: type[uvicorn.Server], tmp_path: Path) -> tuple[bool, httpx.Response]:
    """Stop a server with a request in flight and an idle pooled connection open: whether it
    stopped within 3.5 s (its graceful timeout is 6 s; the request in flight
    needs about 0.5 s more), and the answer to the request in flight."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert_pem, key_pem = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(cert_pem)
    cert.private_key_pem.write_to_path(key_pem)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        ssl_certfile=str(cert_pem),
        ssl_keyfile=str(key_pem),
        timeout_graceful_shutdown=6,  # long beside the slow request: a prompt stop is no timeout
        log_level="warning",
        lifespan="on",
    )
    server = server_class(config)
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"https://127.0.0.1:{port}"
    verify = ssl.create_default_context()
    ca.configure_trust(verify)
    answers: list[httpx.Response] = []
    with httpx.Client(verify=verify, timeout=10) as idle, httpx.Client(verify=verify, timeout=10) as slow:
        assert idle.get(url + "/fast").status_code == 200  # its connection stays pooled, idle
        asking = threading.Thread(target=lambda: answers.append(slow.get(url + "/slow")))
        asking.start()
        time.sleep(0.3)  # the slow request is in flight
        server.should_exit = True  # what SIGTERM sets
        serving.join(timeout=3.5)
        prompt = not serving.is_alive()
        asking.join(timeout=10)
    # the clients closed: whatever the server still waited for is gone
    serving.join(timeout=30)
    assert not serving.is_alive()
    assert len(answers) == 1
    return prompt, answers[0]


def test_an_idle_keep_alive_connection_does_not_hold_the_stop(tmp_path: Path) -> None:
    prompt, answer = _stop_with_idle_and_in_flight(NodeServer, tmp_path)
    assert answer.status_code == 200 and answer.content == BODY, "the request in flight is answered in full"
    assert prompt, "the stop waited for the idle connection"


def test_uvicorn_alone_waits_its_graceful_timeout_for_the_idle_connection(tmp_path: Path) -> None:
    """What the test above rules out, shown on uvicorn's own server (so that test can fail)."""
    prompt, answer = _stop_with_idle_and_in_flight(uvicorn.Server, tmp_path)
    assert answer.status_code == 200 and answer.content == BODY
    assert not prompt
