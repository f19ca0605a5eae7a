"""What the dataspace's provider, consumer and management facade share: the DSP 2025-1 path and
the transfer format this node speaks, and its settings (the clock is :mod:`batpass.core.clock`'s).

Holds no process and does no I/O. Sources: DSP 2025-1 HTTPS binding (the ``/api/dsp/2025-1``
base path), DSP 2025-1 ``Distribution.format`` (``HttpData-PULL``, CX-0018).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DSP_PATH", "HTTP_ENDPOINT_TYPE", "PULL_FORMAT", "DataspaceSettings"]

DSP_PATH = "/api/dsp/2025-1"
PULL_FORMAT = "HttpData-PULL"
HTTP_ENDPOINT_TYPE = "https://w3id.org/idsa/v4.1/HTTP"


@dataclass(frozen=True, slots=True)
class DataspaceSettings:
    """What the dataspace services need to know about their node."""

    did: str
    base_url: str
    bpnl: str | None = None
    token_ttl_s: int = 300
    refresh_ttl_s: int = 3600
    max_page: int = 1000

    @property
    def dsp_url(self) -> str:
        return self.base_url.rstrip("/") + DSP_PATH

    @property
    def callback_url(self) -> str:
        return self.dsp_url + "/callback"

    @property
    def dataplane_url(self) -> str:
        return self.base_url.rstrip("/") + "/api/public"
