"""The vendored PACT conformance tool (``pact_conformance/``) is the upstream bytes its
``PROVENANCE.md`` names, file for file, and ships its licence."""

from __future__ import annotations

import hashlib
from pathlib import Path

TOOL = Path(__file__).resolve().parent / "pact_conformance"


def _rows() -> dict[str, str]:
    """path → git blob SHA-1 of every file row of the provenance table."""
    rows = {}
    for line in (TOOL / "PROVENANCE.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip().strip("`") for c in line.strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 2:
            rows[cells[0]] = cells[1]
    return rows


def _blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def test_every_vendored_file_is_listed_with_its_upstream_blob() -> None:
    rows = _rows()
    present = {
        p.relative_to(TOOL).as_posix()
        for p in TOOL.rglob("*")
        if p.is_file() and p.name != "PROVENANCE.md" and "node_modules" not in p.parts
    }
    assert present == set(rows) and len(rows) >= 30
    assert {rel: _blob((TOOL / rel).read_bytes()) for rel in sorted(present)} == rows


def test_the_mit_licence_ships_with_it() -> None:
    text = (TOOL / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "World Business Council for Sustainable Development" in text
    assert "839bfe8cd27f30cf60f30e3265f2f2db330f5b04" in (TOOL / "PROVENANCE.md").read_text(encoding="utf-8")
