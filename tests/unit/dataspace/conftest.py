"""Fixtures of the dataspace tests (the harness lives in ``_dsp_harness``, shared with conformance)."""

from _dsp_harness import network  # noqa: F401
