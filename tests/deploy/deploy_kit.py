"""What the deploy tests share: the repository, the CI rule and the image's user."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
#: the image's user (Dockerfile): the owner of the volume's files
IMAGE_UID = 10001
