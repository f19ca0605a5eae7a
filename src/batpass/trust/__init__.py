"""Trust: keys, DIDs, verifiable credentials, SD-JWT, trust lists, recognition, status lists."""

from batpass.trust._did import did_document
from batpass.trust._keys import KeyPair, NodeIdentity, generate_keypair, load_or_create_identity, write_private_pem

__all__ = ["KeyPair", "NodeIdentity", "did_document", "generate_keypair", "load_or_create_identity", "write_private_pem"]
