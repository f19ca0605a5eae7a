"""A story step run beside the steps after it (batpass.demo._story._beside): summary.json as if
the steps had run one after another — the keys it wrote in the sequential order, its timing, its
artefacts and hand-offs — and what it raised raised at the join; steps that write the same key
are not independent and the join refuses."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from batpass.core.errors import InvariantViolation
from batpass.demo._run import empty_summary
from batpass.demo._story import Story
from batpass.demo._story._beside import Beside


def _story(tmp_path: Path) -> Story:
    return Story(out=tmp_path, nodes={}, client=httpx.Client(), summary=empty_summary(), console=Console(quiet=True))


def _step(key: str, value: Any, gate: threading.Event | None = None) -> Any:
    def run(story: Story) -> None:
        if gate is not None:
            assert gate.wait(10)
        story.story[key] = value
        story.shared[f"{key}.handed"] = value
        story.artefact("compliance", f"{key}.json", {"v": value})

    return run


def _sequential(tmp_path: Path) -> dict[str, Any]:
    story = _story(tmp_path / "seq")
    for name, key in (("a", "first"), ("b", "beside"), ("c", "after"), ("d", "last")):
        with story.timed(name):
            _step(key, name)(story)
    return story.summary


def test_a_step_beside_others_leaves_the_summary_as_a_sequential_run(tmp_path: Path) -> None:
    story = _story(tmp_path / "beside")
    with story.timed("a"):
        _step("first", "a")(story)
    gate = threading.Event()
    b = Beside(story, "b", _step("beside", "b", gate))
    with story.timed("c"):  # runs while b waits
        _step("after", "c")(story)
    gate.set()
    b.join()
    with story.timed("d"):
        _step("last", "d")(story)
    seq = _sequential(tmp_path)
    assert list(story.story) == list(seq["story"])
    assert list(story.story["timings_s"]) == list(seq["story"]["timings_s"]) == ["a", "b", "c", "d"]
    assert {k: v for k, v in story.story.items() if k != "timings_s"} == {
        k: v for k, v in seq["story"].items() if k != "timings_s"
    }
    assert story.summary["artefacts"] == seq["artefacts"]
    assert story.shared["beside.handed"] == "b"


def test_what_the_step_beside_raised_is_raised_at_the_join(tmp_path: Path) -> None:
    story = _story(tmp_path)

    def fails(view: Story) -> None:
        raise InvariantViolation("no verdicts", rule="demo.reconciliation")

    b = Beside(story, "b", fails)
    with pytest.raises(InvariantViolation) as err:
        b.join()
    assert err.value.rule == "demo.reconciliation"
    assert "b" not in story.story["timings_s"]


def test_steps_that_write_the_same_key_are_not_independent(tmp_path: Path) -> None:
    story = _story(tmp_path)
    gate = threading.Event()
    b = Beside(story, "b", _step("shared_key", 1, gate))
    story.story["shared_key"] = 2
    gate.set()
    with pytest.raises(InvariantViolation) as err:
        b.join()
    assert err.value.rule == "demo.beside"
