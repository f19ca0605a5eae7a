"""The repository stands alone: nothing in ``src/`` or ``tests/`` reads or cites files outside it,
vendored files are the upstream bytes their provenance names, and the licence ships."""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "tests" / "specs"
SKIP_DIRS = {"node_modules", "__pycache__", ".venv312", ".hypothesis"}
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".json", ".jsonld", ".html", ".js", ".mjs", ".txt", ".toml", ".ini"}

# built from pieces so that this file does not match itself
_PARENT = r"\.\./" + "shared"
OUTSIDE = re.compile(
    "|".join(
        [
            _PARENT,  # the sibling folder, reached by a relative path
            "shared" + r"/(specs|research|DESIGN|RULES|STYLE|BENCHMARKS)",
            r"""["']""" + "shared" + r"""["']""",  # Path(...) / "shared"
            r"\b(RULES|DESIGN|STYLE|BENCHMARKS)\.md\b",
            r"\bDESIGN\b ?(section|§|flow)",
            r"\bresearch/[a-z-]+\.md",
        ]
    )
)


def _text_files(*tops: str) -> Iterator[Path]:
    for top in tops:
        for path in (ROOT / top).rglob("*"):
            if path.is_file() and path.suffix in TEXT_SUFFIXES and not SKIP_DIRS & set(path.parts):
                yield path


def test_nothing_reads_or_cites_files_outside_the_repository() -> None:
    hits = []
    for path in _text_files("src", "tests", "benchmarks", "docs"):
        if path == Path(__file__).resolve():
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:120]}")
    assert hits == [], "\n".join(hits)


def _provenance_rows() -> list[tuple[str, str]]:
    """(path under tests/specs, git blob SHA-1) of every row of tests/specs/PROVENANCE.md."""
    rows = []
    for line in (SPECS / "PROVENANCE.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip().strip("`") for c in line.strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 6:
            rows.append((cells[0], cells[5]))
    return rows


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@pytest.mark.parametrize(("rel", "blob"), _provenance_rows(), ids=lambda v: str(v)[-40:])
def test_vendored_specs_are_the_upstream_bytes(rel: str, blob: str) -> None:
    assert _git_blob_sha1((SPECS / rel).read_bytes()) == blob


def test_every_vendored_spec_has_its_provenance() -> None:
    listed = {rel for rel, _ in _provenance_rows()}
    present = {p.relative_to(SPECS).as_posix() for p in SPECS.rglob("*") if p.is_file() and p.name != "PROVENANCE.md"}
    assert present == listed and len(listed) >= 20


def test_the_licence_ships_and_matches_the_package_metadata() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert meta["project"]["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert (ROOT / "CONTRIBUTING.md").is_file()
