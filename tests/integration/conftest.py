"""Integration fixtures: the full demo, run once per session and shared by the demo tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from demo_runner import DemoRun, serve_demo


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    yield from serve_demo(tmp_path_factory.mktemp("demo"))
