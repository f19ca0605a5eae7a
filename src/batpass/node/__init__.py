"""The node: composition root (FastAPI app), TLS, local node folders, outbox dispatch, harness."""

from batpass.node._adapters import federation_fetches
from batpass.node.app import create_app
from batpass.node.local import LocalNode, init_node, open_node

__all__ = ["LocalNode", "create_app", "federation_fetches", "init_node", "open_node"]
