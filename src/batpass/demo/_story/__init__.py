"""The demo's story, step by step, told to a running federation over HTTPS only.

Each step is a module with ``run(story: Story) -> None``; :data:`STEPS` runs them in order.
A step talks to nodes through their public HTTPS APIs (never their Python objects), records
what it shows in ``story.summary`` (the ``summary.json`` contract, README "What the demo shows"), writes its
artefacts with :meth:`Story.artefact`, and hands results to later steps through
``story.shared`` under the keys documented in :mod:`batpass.demo._story._context`.
"""

from batpass.demo._story._context import Story

__all__ = ["Story"]
