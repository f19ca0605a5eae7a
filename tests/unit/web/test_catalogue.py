"""The pages' catalogues: every message the pages can show (the templates, this package's marked
strings, the passport's Annex XIII field labels) has a Japanese translation, the catalogue holds
no message the code no longer has, and placeholders survive translation. ``make messages``
brings a stale catalogue up to date and lists what is left to translate."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from batpass.passport import FIELDS
from batpass.web import LOCALES
from batpass.web._catalogue import catalogue_path, extract, update
from batpass.web._i18n import PageRequest, language_links, negotiate, translations

TRANSLATED = [loc for loc in LOCALES if loc != "en"]
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _catalogue(locale: str) -> dict[str, tuple[str, bool]]:
    with catalogue_path(locale).open("rb") as f:
        return {str(m.id): (str(m.string), m.fuzzy) for m in read_po(f, locale=locale) if m.id}


def test_the_extraction_finds_the_pages_messages_and_every_field_label() -> None:
    ids = {str(m.id) for m in extract() if m.id}
    assert {f.label for f in FIELDS} <= ids
    assert {"Find a battery passport", "Status: %(status)s", "Key facts", "Battery not found"} <= ids


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_message_is_translated_and_none_is_stale(locale: str) -> None:
    extracted = {str(m.id) for m in extract() if m.id}
    catalogue = _catalogue(locale)
    assert sorted(extracted - set(catalogue)) == [], "not in the catalogue: run make messages"
    assert sorted(set(catalogue) - extracted) == [], "stale in the catalogue: run make messages"
    untranslated = sorted(k for k, (text, fuzzy) in catalogue.items() if not text.strip() or fuzzy)
    assert untranslated == []


@pytest.mark.parametrize("locale", TRANSLATED)
def test_placeholders_survive_translation(locale: str) -> None:
    for msgid, (text, _) in _catalogue(locale).items():
        assert sorted(_PLACEHOLDER.findall(msgid)) == sorted(_PLACEHOLDER.findall(text)), msgid


def test_japanese_is_japanese() -> None:
    _ = translations("ja").gettext
    assert _("Rated capacity") == "定格容量"
    assert _("Economic operator") == "経済事業者"
    # every translation of words carries Japanese script (a copied English text would not)
    kana_or_kanji = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
    # (an acronym such as URL is written the same in Japanese)
    worded = {k: text for k, (text, _) in _catalogue("ja").items() if re.search("[a-z]", _PLACEHOLDER.sub("", k))}
    assert [k for k, text in worded.items() if not kana_or_kanji.search(text)] == []


def test_a_message_missing_from_the_catalogue_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail: a catalogue missing a message, and one with a stale message."""
    import batpass.web._catalogue as cat

    copy = tmp_path / "ja" / "LC_MESSAGES" / "messages.po"
    copy.parent.mkdir(parents=True)
    shutil.copy(catalogue_path("ja"), copy)
    text = copy.read_text(encoding="utf-8")
    text = text.replace('msgid "Key facts"\nmsgstr "主な情報"', 'msgid "Key facts (old)"\nmsgstr "主な情報"')
    copy.write_text(text, encoding="utf-8")
    monkeypatch.setattr(cat, "LOCALE_DIR", tmp_path)
    before = _ids(copy)
    assert "Key facts" not in before and "Key facts (old)" in before
    assert update("ja") == ["Key facts"]  # the update adds it untranslated and drops the stale one
    after = _ids(copy)
    assert "Key facts" in after and "Key facts (old)" not in after


def _ids(path: Path) -> set[str]:
    with path.open("rb") as f:
        return {str(m.id) for m in read_po(f) if m.id}


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "expected"),
    [
        (None, None, None, "en"),
        (None, None, "ja-JP,ja;q=0.9,en-US;q=0.8", "ja"),
        (None, None, "en-GB,en;q=0.9,ja;q=0.8", "en"),
        (None, None, "fr-FR,ja;q=0.5", "ja"),
        (None, None, "de-DE,fr;q=0.5", "en"),
        (None, None, "ja;q=0", "en"),
        (None, "ja", "en", "ja"),
        ("en", "ja", "ja", "en"),
        ("xx", None, "ja", "ja"),
    ],
)
def test_negotiate(query: str | None, cookie: str | None, accept: str | None, expected: str) -> None:
    assert negotiate(query=query, cookie=cookie, accept_language=accept) == expected


def test_the_language_links_stay_on_this_page_of_this_node() -> None:
    links = language_links(PageRequest("ja", "/01/04012345000009/21/A B", (("q", "x&y"), ("lang", "ja"))))
    assert links == [
        ("en", "English", "/01/04012345000009/21/A%20B?q=x%26y&lang=en", False),
        ("ja", "日本語", "/01/04012345000009/21/A%20B?q=x%26y&lang=ja", True),
    ]
    # a path that starts like a link to another host stays on this one
    assert language_links(PageRequest("en", "//evil.example/x"))[1][2] == "/evil.example/x?lang=ja"
