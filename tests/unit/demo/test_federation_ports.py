"""Every node of a federation gets its own port: ``free_port`` asks the kernel for a free port
and lets it go again, so two calls can answer the same port (a demo run under load had the
bridge and cx-mines both on one port; the second did not bind, the first answered the story's
calls for both, and the bridge's admin calls were refused with 401)."""

from __future__ import annotations

from pathlib import Path

import pytest

import batpass.node.local
from batpass.demo.harness import NodeSpec, federation

SPECS = tuple(NodeSpec(f"n{i}", ("catena-x",)) for i in range(3))


def test_the_nodes_of_a_federation_have_distinct_ports_when_the_kernel_repeats_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repeated = batpass.node.local.free_port()
    monkeypatch.setattr(batpass.node.local, "free_port", lambda host="127.0.0.1": repeated)
    with federation(tmp_path / "home", SPECS, start=False) as runs:
        ports = [r.node.config.port for r in runs]
    assert len(set(ports)) == len(SPECS)
