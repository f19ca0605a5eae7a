"""Trust: keys, DIDs, the one compact-JWS signer and verifier (``sign_compact``,
``verify_compact``), verifiable credentials, SD-JWT, trust lists, recognition, status lists."""

from pathlib import Path

from batpass.trust._certify import certify_claim, verify_upstream_summary
from batpass.trust._dcp import (
    DcpParticipantVerifier,
    NonceStore,
    issue_self_issued_token,
    presentation_query,
    verify_role_presentation,
    verify_self_issued_token,
)
from batpass.trust._did import BRIDGE_SERVICE, did_document, node_did, node_services, operator_did, subject_did_document
from batpass.trust._jose import peek, sign_compact, verify_compact
from batpass.trust._keys import (
    KeyPair,
    NodeIdentity,
    check_private_file,
    did_key_from_jwk,
    generate_keypair,
    jwk_from_did_key,
    load_or_create_identity,
    new_did_key_identity,
    rotate_key,
    write_private_pem,
)
from batpass.trust._replay import UsedTokens
from batpass.trust._resolver import DidResolver, GuardedFetcher
from batpass.trust._sdjwt import SdJwtVerified, issue_sd_jwt, present_sd_jwt, verify_sd_jwt
from batpass.trust._sealed import SecretBox
from batpass.trust._status import StatusListCache
from batpass.trust._tls import (
    FederationCA,
    RotatedCertificate,
    client_ssl_context,
    init_ca,
    issue_node_certificate,
    load_ca,
    rotate_node_certificate,
)
from batpass.trust._trustlist import TrustRegistry, load_trust_list, sign_trust_list
from batpass.trust._vc import build_credential, issue_vc_jwt, issue_vp_jwt, verify_vc_jwt, verify_vp_jwt
from batpass.trust._verified import VerifiedTokens
from batpass.trust._verify import Verifier
from batpass.trust.errors import CredentialRejected
from batpass.trust.model import (
    ROLES,
    Check,
    CredentialType,
    RecognitionPolicy,
    RecognitionRule,
    RejectReason,
    SelfIssued,
    TrustedIssuer,
    TrustList,
    Verification,
    VerifiedParticipant,
    VerifiedRoles,
)
from batpass.trust.service import IssuedCredential, TrustService

#: the trust capability's Alembic branch
MIGRATIONS_DIR = Path(__file__).resolve().parent / "_migrations"

__all__ = [
    "BRIDGE_SERVICE",
    "MIGRATIONS_DIR",
    "ROLES",
    "Check",
    "CredentialRejected",
    "CredentialType",
    "DcpParticipantVerifier",
    "DidResolver",
    "FederationCA",
    "GuardedFetcher",
    "IssuedCredential",
    "KeyPair",
    "NodeIdentity",
    "NonceStore",
    "RecognitionPolicy",
    "RecognitionRule",
    "RejectReason",
    "RotatedCertificate",
    "SdJwtVerified",
    "SecretBox",
    "SelfIssued",
    "StatusListCache",
    "TrustList",
    "TrustRegistry",
    "TrustService",
    "TrustedIssuer",
    "UsedTokens",
    "Verification",
    "VerifiedParticipant",
    "VerifiedRoles",
    "VerifiedTokens",
    "Verifier",
    "build_credential",
    "certify_claim",
    "check_private_file",
    "client_ssl_context",
    "did_document",
    "did_key_from_jwk",
    "generate_keypair",
    "init_ca",
    "issue_node_certificate",
    "issue_sd_jwt",
    "issue_self_issued_token",
    "issue_vc_jwt",
    "issue_vp_jwt",
    "jwk_from_did_key",
    "load_ca",
    "load_or_create_identity",
    "load_trust_list",
    "new_did_key_identity",
    "node_did",
    "node_services",
    "operator_did",
    "peek",
    "present_sd_jwt",
    "presentation_query",
    "rotate_key",
    "rotate_node_certificate",
    "sign_compact",
    "sign_trust_list",
    "subject_did_document",
    "verify_compact",
    "verify_role_presentation",
    "verify_sd_jwt",
    "verify_self_issued_token",
    "verify_upstream_summary",
    "verify_vc_jwt",
    "verify_vp_jwt",
    "write_private_pem",
]
