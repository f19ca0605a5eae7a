"""The EU/JP demo: a federation of nodes on loopback over HTTPS (the multi-node harness), the story
told to it through the nodes' public APIs, and the leak scan of what the car maker received.

It sits on top of everything (only the command line imports it); demo data — the scenario's
companies, sites and high-risk list — lives here and in ``batpass.scenario``, never in a node's
defaults.
"""

from batpass.demo._run import run_demo

__all__ = ["run_demo"]
