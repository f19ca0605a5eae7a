"""uvicorn's server for a one-worker node process, stopped cleanly and promptly (imported by
:func:`batpass.node.serve.run` only: not from ``batpass.http``'s package, which would import uvicorn
with every router).

- **SIGTERM is a clean stop.** uvicorn raises a signal it stopped on again once the server is
  down, so that the process ends as the signal would have ended it: ``batpass serve`` exited -15
  after shutting its app down on SIGTERM (what a container engine or a service manager sends to
  stop it). It now exits 0; SIGINT is still raised again (a ``KeyboardInterrupt``, which
  :func:`batpass.node.serve.run` ends quietly, as ``uvicorn.run`` did).
- **An idle keep-alive connection is closed at once.** On stopping, uvicorn closes each
  connection that has no request in flight, then waits (``timeout_graceful_shutdown``) until all
  are gone. Over TLS a close waits for the peer's ``close_notify``, which a partner's pooled
  client, idle between requests, never reads to answer: each stop waited the whole 2 s. A
  connection whose close has begun and whose response bytes are all handed to the socket is
  aborted instead; one with a request in flight is still answered first (uvicorn closes it only
  after its response), so nothing in flight is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn
from uvicorn.server import ServerState

__all__ = ["NodeServer"]

#: how often a stopping server looks for closed, flushed connections to abort
_POLL_S = 0.02


class NodeServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            try:
                yield
            finally:
                # the stop SIGTERM asked for has happened: do not end the process by it again
                self._captured_signals[:] = [s for s in self._captured_signals if s != signal.SIGTERM]

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        closer = asyncio.create_task(_abort_closed_connections(self.server_state))
        try:
            await super().shutdown(sockets)
        finally:
            closer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await closer


async def _abort_closed_connections(state: ServerState) -> None:
    """Abort each connection uvicorn has begun to close once all its bytes are written: it waits
    only for the peer's TLS ``close_notify`` (an idle pooled client never sends one)."""
    while True:
        for connection in list(state.connections):
            transport: Any = getattr(connection, "transport", None)
            if transport is not None and transport.is_closing() and transport.get_write_buffer_size() == 0:
                transport.abort()
        await asyncio.sleep(_POLL_S)
