"""The node image (Dockerfile, ``make image``) and the compose federation (``deploy/``).

The session's ``image`` fixture makes the container engine answer (scripts/ensure-docker.sh:
Debian's packages, dockerd started in the background) and builds the image, cached by content
(scripts/build-image.sh: an unchanged wheelhouse reuses the image). Off CI a machine whose engine
cannot start skips these tests with the reason; under ``CI=true`` they fail instead. A failing
image build always fails.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from deploy_kit import IN_CI, REPO


@pytest.fixture(scope="session")
def image() -> str:
    """The content tag of the node image (``batpass:wh-<digest>``, also tagged ``batpass:local``)."""
    engine = subprocess.run(["bash", "scripts/ensure-docker.sh"], cwd=REPO, capture_output=True, text=True)
    if engine.returncode != 0:
        reason = f"the container engine cannot start: {engine.stderr.strip()[-1500:]}"
        if IN_CI:
            pytest.fail(f"CI=true requires the container engine: {reason}", pytrace=False)
        pytest.skip(reason)
    built = subprocess.run(
        ["bash", "scripts/build-image.sh"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=dict(os.environ, PY=sys.executable),
    )
    if built.returncode != 0:
        pytest.fail(f"make image failed: {built.stderr.strip()[-3000:]}", pytrace=False)
    return built.stdout.strip().splitlines()[-1]
