"""Token Status List encoding against the draft's own examples and test vectors
(draft-ietf-oauth-status-list-20, vendored byte-exact under tests/specs/token-status-list/, see
tests/specs/PROVENANCE.md): the 16-entry 1-bit and 12-entry 2-bit examples of §4.1 and the
2^20-entry 1-, 2-, 4- and 8-bit vectors of the appendix, each both ways — our encoder produces
the published ``lst`` byte for byte, and our decoder reads every listed status back from it."""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path

import pytest

from batpass.trust._jose import b64e
from batpass.trust._tokenstatus import DRAFT, compress, decompress, from_bitstring, get_status, set_status
from batpass.trust.errors import CredentialRejected

SPECS = Path(__file__).resolve().parents[2] / "specs" / "token-status-list"
DRAFT_MD = (SPECS / "draft-ietf-oauth-status-list.md").read_text()
SIZE = 2**20  # "All examples are initialized with a size of 2^20 entries."


def example(name: str) -> dict[str, object]:
    """The JSON object of an ``examples/*.md`` file (the long ``lst`` strings are wrapped)."""
    text = (SPECS / "examples" / name).read_text()
    body = text[text.index("{") : text.rindex("}") + 1]
    lst = re.search(r'"lst":\s*"([^"]*)"', body, re.S)
    assert lst is not None
    obj: dict[str, object] = json.loads(body.replace(lst.group(1), re.sub(r"\s+", "", lst.group(1))))
    return obj


def appendix_vectors() -> list[tuple[int, dict[int, int], str]]:
    """(bits, {index: status}, example file) per ``## N-bit Status List`` section of the appendix."""
    appendix = DRAFT_MD[DRAFT_MD.index("# Test vectors for Status List encoding") :]
    out = []
    for m in re.finditer(r"^## (\d)-bit Status List$(.*?)(?=^## |^# )", appendix, re.S | re.M):
        bits, section = int(m.group(1)), m.group(2)
        statuses = {int(i): int(v, 2) for i, v in re.findall(r"^status\[(\d+)\]\s*=\s*0b([01]+)$", section, re.M)}
        include = re.search(r"\{::include examples/(status_list_encoding\w*_json\.md)\}", section)
        assert include is not None and statuses
        out.append((bits, statuses, include.group(1)))
    return out


VECTORS = appendix_vectors()


def test_the_draft_revision_named_in_code_is_the_vendored_one() -> None:
    history = DRAFT_MD[DRAFT_MD.index("# Document History") :]
    newest = re.search(r"^-(\d\d)$", history, re.M)
    assert newest is not None and f"draft-ietf-oauth-status-list-{newest.group(1)}" == DRAFT
    assert [bits for bits, _s, _f in VECTORS] == [1, 2, 4, 8]


@pytest.mark.parametrize(("bits", "statuses", "name"), VECTORS, ids=[f"{b}-bit" for b, _s, _n in VECTORS])
def test_appendix_vectors_encode_to_the_published_lst(bits: int, statuses: dict[int, int], name: str) -> None:
    published = example(name)
    assert published["bits"] == bits
    raw = bytearray(SIZE * bits // 8)
    for idx, value in statuses.items():
        set_status(raw, idx, value, bits=bits)
    assert compress(bytes(raw)) == published["lst"]
    decoded = decompress(str(published["lst"]))
    assert len(decoded) == len(raw)
    for idx in range(0, SIZE, 997):  # the unlisted entries are 0 (VALID)
        assert get_status(decoded, idx, bits=bits) == statuses.get(idx, 0)
    for idx, value in statuses.items():
        assert get_status(decoded, idx, bits=bits) == value


@pytest.mark.parametrize(
    ("name", "bits", "statuses", "byte_array"),
    [
        (
            "status_list_encoding_json.md",
            1,
            [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1],
            b"\xb9\xa3",
        ),
        ("status_list_encoding2_json.md", 2, [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3], b"\xc9\x44\xf9"),
    ],
)
def test_section_4_examples(name: str, bits: int, statuses: list[int], byte_array: bytes) -> None:
    raw = bytearray(len(byte_array))
    for idx, value in enumerate(statuses):
        set_status(raw, idx, value, bits=bits)
    assert bytes(raw) == byte_array
    published = example(name)
    assert published == {"bits": bits, "lst": compress(bytes(raw))}
    assert [get_status(decompress(str(published["lst"])), i, bits=bits) for i in range(len(statuses))] == statuses


def test_the_w3c_bitstring_and_the_token_list_agree_index_by_index() -> None:
    bitstring = bytearray(4)
    for i in (0, 3, 9, 31):
        bitstring[i // 8] |= 0x80 >> (i % 8)  # W3C: index 0 is the most significant bit
    tsl = from_bitstring(bytes(bitstring))
    assert [i for i in range(32) if get_status(tsl, i, bits=1)] == [0, 3, 9, 31]


def test_an_index_outside_the_list_is_refused_never_read_as_valid() -> None:
    raw = decompress(str(example("status_list_encoding_json.md")["lst"]))
    for idx in (16, -1):
        with pytest.raises(CredentialRejected) as e:
            get_status(raw, idx, bits=1)
        assert e.value.reason == "status-unavailable"


@pytest.mark.parametrize("lst", ["not+base64", "eNrbuRgAAhcBX", "AAAA", "eNrbuRgAAhc"])
def test_a_damaged_lst_is_refused(lst: str) -> None:
    with pytest.raises(CredentialRejected) as e:
        decompress(lst)
    assert e.value.reason == "status-unavailable"


def test_a_compression_bomb_is_refused() -> None:
    with pytest.raises(CredentialRejected):
        decompress(b64e(zlib.compress(bytes(1 << 20), 9)), limit=1 << 16)
