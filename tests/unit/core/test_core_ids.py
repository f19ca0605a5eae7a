from __future__ import annotations

import pytest

from batpass.core.errors import InvalidIdentifier
from batpass.core.ids import (
    BatteryId,
    Bpna,
    Bpnl,
    Bpns,
    CorporateNumber,
    Did,
    Gtin,
    OuranosOperatorId,
    OuranosPlantId,
    Serial,
    new_uuid7,
)


def test_bpn_kinds_are_distinct_and_validated() -> None:
    assert Bpnl("BPNL00000003AYRE") == "BPNL00000003AYRE"
    assert Bpns("BPNS0000000008ZZ") == "BPNS0000000008ZZ"
    assert Bpna("BPNA000000000001") == "BPNA000000000001"
    with pytest.raises(InvalidIdentifier) as e:
        Bpnl("BPNS0000000008ZZ")
    assert "BPNL" in str(e.value) and "12 upper-case" in str(e.value)
    with pytest.raises(InvalidIdentifier):
        Bpnl("BPNL00000003ayre")
    with pytest.raises(InvalidIdentifier):
        Bpnl("BPNL00000003AYR")


def test_corporate_number_check_digit() -> None:
    # National Tax Agency's own corporate number, a published valid example
    assert CorporateNumber("7000012050002") == "7000012050002"
    with pytest.raises(InvalidIdentifier) as e:
        CorporateNumber("8000012050002")
    assert e.value.id_kind == "Japanese corporate number"
    assert "check digit" in str(e.value)
    with pytest.raises(InvalidIdentifier, match="13 digits"):
        CorporateNumber("12345")


def test_ouranos_ids_keep_the_api_limits_without_check_digit() -> None:
    # the published API's own example fails the corporate-number check digit, yet is accepted here
    assert OuranosOperatorId("1234567890123") == "1234567890123"
    assert not CorporateNumber.is_valid("1234567890123")
    with pytest.raises(InvalidIdentifier, match="1 to 20"):
        OuranosOperatorId("x" * 21)
    assert OuranosPlantId("9876543210987123456")
    with pytest.raises(InvalidIdentifier, match="6 digits"):
        OuranosPlantId("plant-abc")


def test_did_web_and_key() -> None:
    d = Did.web("localhost", 8443)
    assert d == "did:web:localhost%3A8443"
    assert d.web_document_url() == "https://localhost:8443/.well-known/did.json"
    op = Did.web("hub.example", None, "operators", "d9a38406-cae2-4679-b052-15a75f5531e8")
    assert op.web_document_url() == "https://hub.example/operators/d9a38406-cae2-4679-b052-15a75f5531e8/did.json"
    assert Did("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK").method == "key"
    for bad in ("did:web:", "web:example.com", "did:key:abc", "did:web:exa mple.com"):
        with pytest.raises(InvalidIdentifier):
            Did(bad)


def test_gtin_and_battery_digital_link() -> None:
    g = Gtin.with_check_digit("400638133393")
    assert g == "04006381333931"
    assert Gtin("4006381333931") == g  # GTIN-13 held as GTIN-14
    bid = BatteryId("4006381333931", "PACK-0001")
    assert bid.digital_link("https://resolver.example/") == "https://resolver.example/01/04006381333931/21/PACK-0001"
    # the identity does not depend on the resolver base
    assert BatteryId.parse("https://other:9443/01/04006381333931/21/PACK-0001") == bid
    assert BatteryId.parse(str(bid)) == bid
    with pytest.raises(InvalidIdentifier, match="check digit"):
        BatteryId("4006381333932", "X")
    with pytest.raises(InvalidIdentifier, match="character set 82"):
        Serial("has space")
    with pytest.raises(InvalidIdentifier):
        BatteryId.parse("https://r.example/passport/123")


def test_uuid7_is_time_ordered() -> None:
    ids = [new_uuid7() for _ in range(200)]
    assert all(u.version == 7 for u in ids)
    assert [u.int >> 80 for u in ids] == sorted(u.int >> 80 for u in ids)
    assert len(set(ids)) == len(ids)


def test_uuid7_given_within_one_millisecond_sort_in_the_order_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """Time held still (one millisecond), and then stepped back: every id still sorts after the
    one before it (as text too: the audit logs order by the stored string), a version-7 RFC 9562
    UUID, never repeated."""
    import time
    import uuid

    now = time.time_ns()
    monkeypatch.setattr(time, "time_ns", lambda: now)
    ids = [new_uuid7() for _ in range(2000)]
    monkeypatch.setattr(time, "time_ns", lambda: now - 5_000_000_000)
    ids += [new_uuid7() for _ in range(50)]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in ids)
    assert [str(u) for u in ids] == sorted(str(u) for u in ids) and len(set(ids)) == len(ids)
