"""Identifier validators: valid values round-trip; a single-digit change of a GTIN is always
rejected, and so is every single-digit change of a corporate number that its mod-9 check digit
can see. The NTA check digit is ``9 - (sum of weighted digits mod 9)`` with weights 1 and 2, so a
0 <-> 9 substitution in the body changes the sum by 9 or 18 and cannot be detected by any
validator: that limit of the scheme is pinned by its own test below."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import ean
from stdnum.jp import cn

from batpass.core.errors import InvalidIdentifier
from batpass.core.ids import BatteryId, Bpnl, CorporateNumber, Gtin

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


@st.composite
def corporate_numbers(draw: st.DrawFn) -> str:
    body = draw(st.text(alphabet="0123456789", min_size=12, max_size=12))
    return cn.calc_check_digit(body) + body


@st.composite
def gtins(draw: st.DrawFn) -> str:
    body = draw(st.text(alphabet="0123456789", min_size=13, max_size=13))
    return body + ean.calc_check_digit(body)


@settings(max_examples=200, deadline=None)
@given(corporate_numbers())
def test_valid_corporate_numbers_round_trip(value: str) -> None:
    assert CorporateNumber(value) == value
    assert CorporateNumber(CorporateNumber(value)) == value


@settings(max_examples=300, deadline=None)
@given(corporate_numbers(), st.integers(0, 12), st.integers(1, 9))
def test_single_digit_change_of_corporate_number_rejected(value: str, pos: int, delta: int) -> None:
    new_digit = (int(value[pos]) + delta) % 10
    if pos > 0 and {int(value[pos]), new_digit} == {0, 9}:
        return  # invisible to a mod-9 check digit (see the module docstring and the test below)
    changed = value[:pos] + str(new_digit) + value[pos + 1 :]
    try:
        CorporateNumber(changed)
    except InvalidIdentifier:
        return
    raise AssertionError(f"{changed} (changed from {value}) was accepted")


@settings(max_examples=200, deadline=None)
@given(gtins(), st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", min_size=1, max_size=20))
def test_valid_gtin_and_battery_id_round_trip(gtin: str, serial: str) -> None:
    bid = BatteryId(gtin, serial)
    assert BatteryId.parse(bid.digital_link("https://r.example")) == bid
    assert BatteryId.parse(str(bid)) == bid
    assert Gtin(gtin) == gtin


@settings(max_examples=300, deadline=None)
@given(gtins(), st.integers(0, 13), st.integers(1, 9))
def test_single_digit_change_of_gtin_rejected(value: str, pos: int, delta: int) -> None:
    changed = value[:pos] + str((int(value[pos]) + delta) % 10) + value[pos + 1 :]
    try:
        Gtin(changed)
    except InvalidIdentifier:
        return
    raise AssertionError(f"{changed} (changed from {value}) was accepted")


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=12, max_size=12))
def test_bpnl_round_trip(body: str) -> None:
    assert Bpnl("BPNL" + body) == "BPNL" + body


def test_the_mod9_blind_spot_is_real() -> None:
    """A 0 <-> 9 swap in the body keeps the check digit valid: no validator can reject it."""
    assert CorporateNumber("9900000000000") and CorporateNumber("9000000000000")
