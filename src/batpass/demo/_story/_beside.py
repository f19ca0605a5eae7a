"""A story step that runs beside the steps after it (on the story's own thread), joined before a
later step that needs what it did.

The demo's ``reconciliation`` step is mostly waiting for ~900 signed messages to travel between
the nodes, while the steps after it (``trust`` … ``compliance``) keep the car maker's node busy;
on two cores they overlap. A step runs beside others only where neither reads what the other
writes (``batpass.demo._run.BESIDE`` names each such step and the step it must finish before).

``summary.json`` stays as if the steps had run one after another: the step beside writes into a
view of the summary (its own ``story`` dict, timings, artefact lists and ``shared`` hand-offs),
and :meth:`Beside.join` merges what it wrote in the order the sequential run would have written
it — every key the step beside added right after the keys that existed when it started, before
those the steps in front added meanwhile. A key both sides wrote means the steps were not
independent: the join refuses (``demo.beside``) instead of picking one.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, MutableMapping
from typing import Any

from batpass.core.errors import InvariantViolation
from batpass.demo._story._context import Story

__all__ = ["Beside"]


class Beside:
    """Step ``name`` (``run(view)``) started on its own thread with a view of ``story``."""

    def __init__(self, story: Story, name: str, run: Callable[[Story], None]) -> None:
        self.name = name
        self._story = story
        summary = story.summary
        self._story_keys = list(summary["story"])
        self._timing_keys = list(summary["story"]["timings_s"])
        self._artefacts = {k: len(v) for k, v in summary["artefacts"].items()}
        self._shared = dict(story.shared)
        view_story = {k: v for k, v in summary["story"].items() if k != "timings_s"}
        view_story["timings_s"] = {}
        view_summary = dict(summary, story=view_story, artefacts={k: [] for k in summary["artefacts"]})
        self.view = dataclasses.replace(story, summary=view_summary, shared=dict(story.shared))
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, args=(run,), name=f"story-{name}", daemon=True)
        self._thread.start()

    def _main(self, run: Callable[[Story], None]) -> None:
        try:
            with self.view.timed(self.name):
                run(self.view)
        except BaseException as exc:  # handed to the story's thread at the join
            self._error = exc

    def join(self) -> None:
        """Wait for the step; raise what it raised; merge what it wrote into the story's summary."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        summary, view = self._story.summary, self.view.summary
        added = {k: v for k, v in view["story"].items() if k != "timings_s" and v is not self._story_value(k)}
        _merge(summary["story"], self._story_keys, added, self.name)
        _merge(summary["story"]["timings_s"], self._timing_keys, view["story"]["timings_s"], self.name)
        for kind, paths in view["artefacts"].items():
            now = summary["artefacts"].setdefault(kind, [])
            cut = self._artefacts.get(kind, 0)
            now[cut:cut] = paths
        changed = {k: v for k, v in self.view.shared.items() if k not in self._shared or v is not self._shared[k]}
        _merge(self._story.shared, list(self._shared), changed, self.name)

    def _story_value(self, key: str) -> Any:
        return self._story.summary["story"].get(key) if key in self._story_keys else _ABSENT


_ABSENT = object()


def _merge(target: MutableMapping[str, Any], before: list[str], added: dict[str, Any], name: str) -> None:
    """Put ``added`` into ``target`` as if written right after the keys ``before`` (the keys
    ``target`` held when the step beside started), ahead of the keys written in front since."""
    since = [k for k in target if k not in before]
    clash = sorted(set(since) & set(added))
    if clash:
        raise InvariantViolation(
            f"story step {name} ran beside steps that wrote the same keys: {clash}", rule="demo.beside"
        )
    ordered = {k: target[k] for k in before if k in target}
    ordered.update(added)
    ordered.update((k, target[k]) for k in since)
    target.clear()
    target.update(ordered)
