"""Recorded signing vectors: what each of the five Ed25519 compact-JWS signers produced before
they were switched to trust's one signer (ledger batch roots, upstream summaries, recall answers,
passport versions, crosswalk entries). Each vector is a fixed Ed25519 key (RFC 8032 §7.1, TEST 1),
fixed inputs and the exact token the original code signed; Ed25519 is deterministic (RFC 8032
§5.1.6), so any change to a header, its member order, the payload bytes or the key handling shows
up here as a different string. Each token is also checked by its verifier."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import Engine

import batpass.passport.service as passport_service
from batpass.bridge import CrosswalkEntry, OperatorLink, TrustedAsserters, sign_entry, verify_entry
from batpass.compliance import load_ruleset
from batpass.core.ids import BatteryId, Bpnl, CorporateNumber, Did
from batpass.federation.service import sign_recall, verify_recall
from batpass.ledger import decode_summary, encode_summary, sign_summary, verify_summary
from batpass.ledger._chain import batch_payload, sign_batch, verify_batch
from batpass.passport import MIGRATIONS_DIR as PASSPORT_MIGRATIONS
from batpass.passport import PassportRules, PassportService, load_static_product_data
from batpass.passport.service import verify_version_jws
from batpass.trust import KeyPair, NodeIdentity

#: RFC 8032 §7.1 TEST 1 secret key
SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
DID = "did:web:vectors.example"
KID = f"{DID}#key-ed25519-1"
IDENTITY = NodeIdentity(DID, [KeyPair("key-ed25519-1", "Ed25519", ed25519.Ed25519PrivateKey.from_private_bytes(SEED))])
PUBLIC_JWK = IDENTITY.keys[0].public_jwk()
EXAMPLE = Path(__file__).parents[3] / "src/batpass/passport/_data/example-ev-model.yaml"


def resolve(kid: str) -> Mapping[str, Any] | None:
    return PUBLIC_JWK if kid == KID else None


SUMMARY: dict[str, Any] = {
    "summaryVersion": "1.0",
    "subject": {"kind": "lot", "id": "lot-cathode-0042", "material": "cathode_active_material"},
    "issuer": DID,
    "computedAt": "2027-03-01T10:00:00Z",
    "elements": {
        "Co": {
            "originByCountry": {"AU": 0.25, "CD": 0.75},
            "highRiskShare": 0.5,
            "recycled": {"preConsumer": 0.05, "postConsumer": 0.125},
            "custodyModels": {"mass_balance": 0.8, "segregated": 0.2},
            "activeMaterial": {"share": 1.0, "preConsumer": 0.05, "postConsumer": 0.125},
        },
        # integer shares stay integers on the wire (a partner may send them)
        "Li": {
            "originByCountry": {"CL": 1},
            "highRiskShare": 0,
            "recycled": {"preConsumer": 0.0, "postConsumer": 0.0},
            "custodyModels": {"segregated": 1.0},
        },
    },
    "minesReached": 3,
    # non-ASCII stays UTF-8 in the payload (ensure_ascii=False)
    "tombstones": [{"tier": 2, "reason": "Lieferant nicht erreichbar – Kategorie"}],
    "footprint": {"kg_co2e_per_kwh": 71.5, "stages": {"main_production": 20.0, "end_of_life": None}},
    "credentials": ["eyJhbGciOiJFZDI1NTE5In0.e30.c2ln"],
    "foldedSupplierSummaries": 2,
}

RECALL: dict[str, Any] = {
    "issuer": DID,
    "subject": {"id": "lot-cathode-0042"},
    "batteries": ["https://id.vectors.example/01/04012345678901/21/SN-1"],
    "lots": 2,
    "batteriesBelow": 5,
    "marks": ["0f" * 16, "a1" * 16],
    "tombstones": [{"tier": 1, "reason": "customer unreachable"}],
    "computedAt": "2027-03-01T10:00:00Z",
}

ENTRY = CrosswalkEntry(
    OperatorLink(
        CorporateNumber("5835678256246"), Bpnl("BPNL00000003CELL"), Did("did:web:vectors.example:operators:cellmaker")
    ),
    Did(DID),
    dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC),
)

BATCH_JWS = (
    "eyJhbGciOiJFZDI1NTE5Iiwia2lkIjoiZGlkOndlYjp2ZWN0b3JzLmV4YW1wbGUja2V5LWVkMjU1MTktMSIsInR5cCI6ImFwcGxp"
    "Y2F0aW9uL3ZuZC5iYXRwYXNzLmxlZGdlci1iYXRjaCtqd3MifQ.eyJiYXRjaCI6NywiZmlyc3RTZXEiOjYwMDEsImhlYWRIYXNoI"
    "joiZWZlZmVmZWZlZmVmZWZlZmVmZWZlZmVmZWZlZmVmZWZlZmVmZWZlZmVmZWZlZmVmZWZlZmVmZWZlZmVmZWZlZiIsImxhc3RTZ"
    "XEiOjcwMDAsIm93bmVyIjoiZGlkOndlYjp2ZWN0b3JzLmV4YW1wbGUiLCJwcmV2Um9vdCI6ImNkY2RjZGNkY2RjZGNkY2RjZGNkY"
    "2RjZGNkY2RjZGNkY2RjZGNkY2RjZGNkY2RjZGNkY2RjZGNkY2RjZGNkY2QiLCJyb290IjoiYWJhYmFiYWJhYmFiYWJhYmFiYWJhY"
    "mFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYiJ9.s2kNpZSs2LiXWd1gG18ftYs8_Y923rmMk_EMp-m8"
    "HXesHoORbEraF7gSwbjF9ZshOKjGjmjiDHV3LBdSGlCHAg"
)
SUMMARY_JWS = (
    "eyJhbGciOiJFZDI1NTE5Iiwia2lkIjoiZGlkOndlYjp2ZWN0b3JzLmV4YW1wbGUja2V5LWVkMjU1MTktMSIsInR5cCI6ImFwcGxp"
    "Y2F0aW9uL3ZuZC5iYXRwYXNzLnVwc3RyZWFtLXN1bW1hcnkrandzIn0.eyJjb21wdXRlZEF0IjoiMjAyNy0wMy0wMVQxMDowMDow"
    "MFoiLCJjcmVkZW50aWFscyI6WyJleUpoYkdjaU9pSkZaREkxTlRFNUluMC5lMzAuYzJsbiJdLCJlbGVtZW50cyI6eyJDbyI6eyJh"
    "Y3RpdmVNYXRlcmlhbCI6eyJwb3N0Q29uc3VtZXIiOjAuMTI1LCJwcmVDb25zdW1lciI6MC4wNSwic2hhcmUiOjEuMH0sImN1c3Rv"
    "ZHlNb2RlbHMiOnsibWFzc19iYWxhbmNlIjowLjgsInNlZ3JlZ2F0ZWQiOjAuMn0sImhpZ2hSaXNrU2hhcmUiOjAuNSwib3JpZ2lu"
    "QnlDb3VudHJ5Ijp7IkFVIjowLjI1LCJDRCI6MC43NX0sInJlY3ljbGVkIjp7InBvc3RDb25zdW1lciI6MC4xMjUsInByZUNvbnN1"
    "bWVyIjowLjA1fX0sIkxpIjp7ImN1c3RvZHlNb2RlbHMiOnsic2VncmVnYXRlZCI6MS4wfSwiaGlnaFJpc2tTaGFyZSI6MCwib3Jp"
    "Z2luQnlDb3VudHJ5Ijp7IkNMIjoxfSwicmVjeWNsZWQiOnsicG9zdENvbnN1bWVyIjowLjAsInByZUNvbnN1bWVyIjowLjB9fX0s"
    "ImZvbGRlZFN1cHBsaWVyU3VtbWFyaWVzIjoyLCJmb290cHJpbnQiOnsia2dfY28yZV9wZXJfa3doIjo3MS41LCJzdGFnZXMiOnsi"
    "ZW5kX29mX2xpZmUiOm51bGwsIm1haW5fcHJvZHVjdGlvbiI6MjAuMH19LCJpc3N1ZXIiOiJkaWQ6d2ViOnZlY3RvcnMuZXhhbXBs"
    "ZSIsIm1pbmVzUmVhY2hlZCI6Mywic3ViamVjdCI6eyJpZCI6ImxvdC1jYXRob2RlLTAwNDIiLCJraW5kIjoibG90IiwibWF0ZXJp"
    "YWwiOiJjYXRob2RlX2FjdGl2ZV9tYXRlcmlhbCJ9LCJzdW1tYXJ5VmVyc2lvbiI6IjEuMCIsInRvbWJzdG9uZXMiOlt7InJlYXNv"
    "biI6IkxpZWZlcmFudCBuaWNodCBlcnJlaWNoYmFyIOKAkyBLYXRlZ29yaWUiLCJ0aWVyIjoyfV19.UyH-SaJEjiox2Yti4gLefRk"
    "VVbq6OCXTWXPZoqobkHmjdZCACCh4DhTH_tlv-ifcQO3u-HFao9ngi0B7bNWfCw"
)
RECALL_JWS = (
    "eyJhbGciOiJFZDI1NTE5Iiwia2lkIjoiZGlkOndlYjp2ZWN0b3JzLmV4YW1wbGUja2V5LWVkMjU1MTktMSIsInR5cCI6ImJhdHBh"
    "c3MtcmVjYWxsK2p3cyJ9.eyJiYXR0ZXJpZXMiOlsiaHR0cHM6Ly9pZC52ZWN0b3JzLmV4YW1wbGUvMDEvMDQwMTIzNDU2Nzg5MDE"
    "vMjEvU04tMSJdLCJiYXR0ZXJpZXNCZWxvdyI6NSwiY29tcHV0ZWRBdCI6IjIwMjctMDMtMDFUMTA6MDA6MDBaIiwiaXNzdWVyIjo"
    "iZGlkOndlYjp2ZWN0b3JzLmV4YW1wbGUiLCJsb3RzIjoyLCJtYXJrcyI6WyIwZjBmMGYwZjBmMGYwZjBmMGYwZjBmMGYwZjBmMGY"
    "wZiIsImExYTFhMWExYTFhMWExYTFhMWExYTFhMWExYTFhMWExIl0sInN1YmplY3QiOnsiaWQiOiJsb3QtY2F0aG9kZS0wMDQyIn0"
    "sInRvbWJzdG9uZXMiOlt7InJlYXNvbiI6ImN1c3RvbWVyIHVucmVhY2hhYmxlIiwidGllciI6MX1dfQ.lhxBVIYCPcSQbnWq0TFf"
    "esVPw3rEMDC3p7OfCIejR5u6N7pUxaF7UVzzZnNCDMEzvAsqaPMhgNwxhAFtffAHCA"
)
ENTRY_JWS = (
    "eyJhbGciOiJFZDI1NTE5IiwidHlwIjoiY3Jvc3N3YWxrLWVudHJ5K2p3cyIsImtpZCI6ImRpZDp3ZWI6dmVjdG9ycy5leGFtcGxl"
    "I2tleS1lZDI1NTE5LTEifQ..GRcWprGbpmXlkuvPndZ9GhHVofDBeP9bqxYFe7glCCjlUfHTMBkqOPd9dEjgOuouiAc-9G-T6bU-"
    "3ryZKZnUBw"
)
PASSPORT_JWS = (
    "eyJhbGciOiJFZDI1NTE5IiwidHlwIjoiYXBwbGljYXRpb24vdm5kLmJhdHBhc3MucGFzc3BvcnQrandzIiwia2lkIjoiZGlkOndl"
    "Yjp2ZWN0b3JzLmV4YW1wbGUja2V5LWVkMjU1MTktMSJ9.eyJhY3RvciI6ImRpZDp3ZWI6dmVjdG9ycy5leGFtcGxlIiwiY2hhbmd"
    "lIjoiYnVpbHQiLCJpc3N1ZWRBdCI6IjIwMjctMDMtMDFUMTI6MDA6MDArMDA6MDAiLCJpc3N1ZXIiOiJkaWQ6d2ViOnZlY3RvcnM"
    "uZXhhbXBsZSIsInBhc3Nwb3J0Ijp7ImJhY2t1cE5vZGUiOiJodHRwczovL2JhY2t1cC52ZWN0b3JzLmV4YW1wbGUiLCJiYXR0ZXJ"
    "5Ijp7Imd0aW4iOiIwNDAxMjM0NTAwMDAwOSIsInNlcmlhbCI6IlNOLTAwMDEifSwiY2F0ZWdvcnkiOiJldiIsImVuZGVkIjpmYWx"
    "zZSwibW9kZWxJZCI6Ik5vcmRDZWxsLUVWUC03NSIsIm9wZXJhdG9yIjoiZGlkOndlYjp2ZWN0b3JzLmV4YW1wbGUiLCJwYXNzcG9"
    "ydElkIjoiMDE5NjhjM2UtMDAwMC03MDAwLTgwMDAtMDAwMDAwMDAwMDAxIiwicHJlZGVjZXNzb3JzIjpbXSwicmVzb2x2ZXJCYXN"
    "lIjoiaHR0cHM6Ly9pZC52ZWN0b3JzLmV4YW1wbGUiLCJzdGF0dXMiOiJvcmlnaW5hbCIsInN1Y2Nlc3NvcnMiOltdLCJ2YWx1ZXM"
    "iOnsiY19yYXRlX2N5Y2xlX3Rlc3QiOnsidW5pdCI6IjEvaCIsInZhbHVlIjowLjMzfSwiY2FkbWl1bV9zaGFyZSI6eyJ1bml0Ijo"
    "iJSIsInZhbHVlIjowLjB9LCJjYXBhY2l0eV90aHJlc2hvbGRfZXhoYXVzdGlvbiI6eyJ1bml0IjoiJSIsInZhbHVlIjo3MC4wfSw"
    "iY2FyYm9uX2Zvb3RwcmludCI6eyJ1bml0Ijoia2dDTzJlL2tXaCIsInZhbHVlIjo3MS41fSwiY2FyYm9uX2Zvb3RwcmludF9zdGF"
    "nZXMiOnsibWFpbl9wcm9kdWN0aW9uIjoyMC4wfSwiY2hlbWlzdHJ5IjoiTk1DODExIC8gZ3JhcGhpdGUiLCJjb21wb3NpdGlvbl9"
    "hbm9kZSI6W3siY2FzIjoiNzc4Mi00Mi01IiwibWFzc19rZyI6NjQuMCwibWF0ZXJpYWwiOiJncmFwaGl0ZSJ9XSwiY29tcG9zaXR"
    "pb25fY2F0aG9kZSI6W3siY2FzIjoiMTkzMjE0LTI0LTMiLCJtYXNzX2tnIjo5OC4wLCJtYXRlcmlhbCI6ImxpdGhpdW0gbmlja2V"
    "sIGNvYmFsdCBtYW5nYW5lc2Ugb3hpZGUgKE5NQzgxMSkifV0sImNvbXBvc2l0aW9uX2VsZWN0cm9seXRlIjpbeyJjYXMiOiIyMTM"
    "yNC00MC0zIiwibWFzc19rZyI6MzEuMCwibWF0ZXJpYWwiOiJsaXRoaXVtIGhleGFmbHVvcm9waG9zcGhhdGUgaW4gRUMvRE1DIn1"
    "dLCJjcml0aWNhbF9yYXdfbWF0ZXJpYWxzIjpbImxpdGhpdW0iLCJjb2JhbHQiLCJuaWNrZWwiLCJuYXR1cmFsIGdyYXBoaXRlIiw"
    "ibWFuZ2FuZXNlIl0sImRlY2xhcmF0aW9uX29mX2NvbmZvcm1pdHkiOiJodHRwczovL25vcmRjZWxsLmV4YW1wbGUvZXZwNzUvZG9"
    "jLWV1LnBkZiIsImRpc21hbnRsaW5nX2luZm8iOlt7ImRvY3VtZW50IjoiZXhwbG9kZWQgZGlhZ3JhbSIsIm1pbWUiOiJhcHBsaWN"
    "hdGlvbi9wZGYiLCJ1cmwiOiJodHRwczovL25vcmRjZWxsLmV4YW1wbGUvZXZwNzUvZGlzbWFudGxpbmcucGRmIn1dLCJleHBlY3R"
    "lZF9saWZldGltZV9jeWNsZXMiOjIwMDAsImV4cGVjdGVkX2xpZmV0aW1lX3llYXJzIjp7InVuaXQiOiJ5ZWFyIiwidmFsdWUiOjE"
    "yLjB9LCJleHRpbmd1aXNoaW5nX2FnZW50IjpbIndhdGVyIChsYXJnZSBxdWFudGl0aWVzKSIsImNsYXNzIEQgZm9hbSJdLCJoYXp"
    "hcmRvdXNfc3Vic3RhbmNlcyI6W3siY2FzIjoiMjEzMjQtNDAtMyIsImhhemFyZF9jbGFzcyI6ImFjdXRlIHRveGljaXR5IiwibG9"
    "jYXRpb24iOiJlbGVjdHJvbHl0ZSIsIm5hbWUiOiJsaXRoaXVtIGhleGFmbHVvcm9waG9zcGhhdGUifV0sImludGVybmFsX3Jlc2l"
    "zdGFuY2VfaW5pdGlhbCI6eyJ1bml0IjoiT2htIiwidmFsdWUiOjAuMDg1fSwibGFiZWxzIjpbeyJtZWFuaW5nIjoiY29sbGVjdCB"
    "zZXBhcmF0ZWx5IGZyb20gaG91c2Vob2xkIHdhc3RlIiwic3ViamVjdCI6InNlcGFyYXRlIGNvbGxlY3Rpb24iLCJzeW1ib2wiOiJ"
    "odHRwczovL25vcmRjZWxsLmV4YW1wbGUvbGFiZWxzL3doZWVsaWUtYmluLnN2ZyJ9XSwibGVhZF9zaGFyZSI6eyJ1bml0IjoiJSI"
    "sInZhbHVlIjowLjB9LCJtYW51ZmFjdHVyZXJfYWRkcmVzcyI6IkluZHVzdHJpZXN0cmFzc2UgMTIsIDM4NDQwIFdvbGZzYnVyZyw"
    "gREUiLCJtYW51ZmFjdHVyZXJfaWQiOiJCUE5MMDAwMDAwMDAwTkMxIiwibWFudWZhY3R1cmVyX25hbWUiOiJOb3JkQ2VsbCBCYXR"
    "0ZXJpZXMgR21iSCIsIm1hbnVmYWN0dXJpbmdfZGF0ZSI6IjIwMjctMDItMjAiLCJtYW51ZmFjdHVyaW5nX2ZhY2lsaXR5IjoiQlB"
    "OQTAwMDAwMDAwME5DMSIsIm1hbnVmYWN0dXJpbmdfcGxhY2UiOiJXb2xmc2J1cmcsIERFIiwibWF4X3Blcm1pdHRlZF9wb3dlciI"
    "6eyJ1bml0IjoiVyIsInZhbHVlIjoyMDAwMDAuMH0sIm1lcmN1cnlfc2hhcmUiOnsidW5pdCI6IiUiLCJ2YWx1ZSI6MC4wfSwibW9"
    "kZWxfbmFtZSI6Ik5vcmRDZWxsIEVWUCA3NSBrV2ggTk1DODExIHBhY2siLCJvcmlnaW5hbF9wb3dlciI6eyJ1bml0IjoiVyIsInZ"
    "hbHVlIjoxODAwMDAuMH0sInBhcnRfbnVtYmVycyI6W3sibnVtYmVyIjoiRVZQNzUtTU9ELTAxIiwicGFydCI6Im1vZHVsZSJ9LHs"
    "ibnVtYmVyIjoiRVZQNzUtQk1TLTAyIiwicGFydCI6ImJhdHRlcnkgbWFuYWdlbWVudCBzeXN0ZW0ifV0sInJhdGVkX2NhcGFjaXR"
    "5Ijp7InVuaXQiOiJBaCIsInZhbHVlIjoyMDIuMH0sInJhdGVkX2VuZXJneSI6eyJ1bml0Ijoia1doIiwidmFsdWUiOjc1LjB9LCJ"
    "yZW5ld2FibGVfY29udGVudCI6eyJ1bml0IjoiJSIsInZhbHVlIjozLjV9LCJzYWZldHlfbWVhc3VyZXMiOiJodHRwczovL25vcmR"
    "jZWxsLmV4YW1wbGUvZXZwNzUvc2FmZXR5Iiwic2VwYXJhdGVfY29sbGVjdGlvbl9pbmZvIjoiaHR0cHM6Ly9ub3JkY2VsbC5leGF"
    "tcGxlL2V2cDc1L2NvbGxlY3Rpb24iLCJzcGFyZV9wYXJ0X3NvdXJjZXMiOlt7ImVtYWlsIjoic3BhcmVzQG5vcmRjZWxsLmV4YW1"
    "wbGUiLCJzdXBwbGllciI6Ik5vcmRDZWxsIFNlcnZpY2UiLCJ1cmwiOiJodHRwczovL25vcmRjZWxsLmV4YW1wbGUvc3BhcmVzIn1"
    "dLCJ0ZW1wZXJhdHVyZV9tYXgiOnsidW5pdCI6IkNlbCIsInZhbHVlIjo1NS4wfSwidGVtcGVyYXR1cmVfbWluIjp7InVuaXQiOiJ"
    "DZWwiLCJ2YWx1ZSI6LTIwLjB9LCJ0ZXN0X3JlcG9ydHMiOlt7ImxhYiI6IlRVViBFeGFtcGxlIiwidGVzdCI6IlVOIDM4LjMiLCJ"
    "1cmwiOiJodHRwczovL25vcmRjZWxsLmV4YW1wbGUvZXZwNzUvcmVwb3J0cy91bjM4LTMucGRmIn1dLCJ2b2x0YWdlX21heCI6eyJ"
    "1bml0IjoiViIsInZhbHVlIjo0MDMuMn0sInZvbHRhZ2VfbWluIjp7InVuaXQiOiJWIiwidmFsdWUiOjI4OC4wfSwidm9sdGFnZV9"
    "ub21pbmFsIjp7InVuaXQiOiJWIiwidmFsdWUiOjM1NS4yfSwid2FycmFudHlfeWVhcnMiOnsidW5pdCI6InllYXIiLCJ2YWx1ZSI"
    "6OC4wfSwid2FzdGVfcHJldmVudGlvbl9pbmZvIjoiaHR0cHM6Ly9ub3JkY2VsbC5leGFtcGxlL2V2cDc1L3dhc3RlLXByZXZlbnR"
    "pb24iLCJ3ZWlnaHQiOnsidW5pdCI6ImtnIiwidmFsdWUiOjQ1Mi4wfX0sInZlcnNpb24iOjEsIndhc3RlT3BlcmF0b3IiOm51bGx"
    "9LCJwcmV2IjpudWxsLCJ2ZXJzaW9uIjoxfQ.uUaWagmBdo9Rl3bczPXROej-u3MH0I4EzhsKnaHVJCyRuYDOo71qLrlmGKjPIIDK"
    "dXCwLN7-lnBmpOwXsJ3QAg"
)


def test_ledger_batch_root_vector() -> None:
    payload = batch_payload(DID, 7, 6001, 7000, "ab" * 32, "cd" * 32, "ef" * 32)
    kid, token = sign_batch(payload, IDENTITY)
    assert (kid, token) == (KID, BATCH_JWS)
    assert verify_batch(token, resolve) == payload


def test_upstream_summary_vector() -> None:
    token = sign_summary(decode_summary(SUMMARY), IDENTITY)
    assert token == SUMMARY_JWS
    assert encode_summary(verify_summary(token, resolve)) == SUMMARY


def test_recall_answer_vector() -> None:
    token = sign_recall(RECALL, IDENTITY)
    assert token == RECALL_JWS
    assert verify_recall(token, resolve) == RECALL


def test_crosswalk_entry_vector() -> None:
    signed = sign_entry(ENTRY, IDENTITY)
    assert signed.signature == ENTRY_JWS
    policy = TrustedAsserters({Did(DID): frozenset({ENTRY.kind})})
    assert verify_entry(signed.document(), resolve, policy).entry == ENTRY


class _Clock:
    def now(self) -> dt.datetime:
        return dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC)


def test_passport_version_vector(
    make_store: Callable[[Sequence[Path]], Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(passport_service, "new_uuid7", lambda: uuid.UUID("01968c3e-0000-7000-8000-000000000001"))
    svc = PassportService(
        make_store([PASSPORT_MIGRATIONS]),
        IDENTITY,
        rules=PassportRules.from_ruleset(load_ruleset()),
        resolver_base="https://id.vectors.example",
        backup_url="https://backup.vectors.example",
        clock=_Clock(),
    )
    static = load_static_product_data(EXAMPLE)
    battery = BatteryId.parse(f"https://id.vectors.example/01/{static.gtin}/21/SN-0001")
    item = {
        "manufacturing_place": "Wolfsburg, DE",
        "manufacturing_date": "2027-02-20",
        "manufacturing_facility": "BPNA000000000NC1",
    }
    passport = svc.build(
        static, battery, item=item, footprint={"kg_co2e_per_kwh": 71.5, "stages": {"main_production": 20.0}}
    )
    (version,) = svc.versions(passport.passport_id)
    assert version.jws == PASSPORT_JWS
    payload = verify_version_jws(version.jws, PUBLIC_JWK)
    assert payload["issuer"] == DID and payload["version"] == 1 and payload["prev"] is None
