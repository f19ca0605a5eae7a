"""Fixtures for the Ouranos hub tests (defined in ouranos_testkit, a uniquely named module)."""

from ouranos_testkit import *  # noqa: F403
