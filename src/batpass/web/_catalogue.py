"""The pages' message catalogues: which messages there are, and bringing the ``.po`` files up to
date with them (``make messages``, i.e. ``python -m batpass.web._catalogue``).

The messages are those marked in this package (``_``, ``gettext``, ``N_`` in Python; ``_`` in the
templates, extracted with Jinja2's Babel extractor) and the passport's Annex XIII field labels
(``batpass.passport.FIELDS``, shown as the pages' labels). A unit test compares the extracted
set with each catalogue and fails on a missing, stale or untranslated message.

Used at development time only; the node reads the ``.po`` files (``batpass.web._i18n``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from batpass.passport import FIELDS
from batpass.web._i18n import DEFAULT_LOCALE, LOCALE_DIR, LOCALES

__all__ = ["catalogue_path", "extract", "update"]

_PACKAGE = Path(__file__).parent
_METHODS = [("**.py", "python"), ("templates/**.html", "jinja2.ext:babel_extract")]
_OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def extract() -> Catalog:
    """Every message the pages show, with where it comes from."""
    catalog = Catalog(project="batpass", locale=DEFAULT_LOCALE)
    for filename, lineno, message, comments, context in extract_from_dir(_PACKAGE, _METHODS, _OPTIONS):
        catalog.add(message, locations=[(f"web/{filename}", lineno)], auto_comments=comments, context=context)
    for spec in FIELDS:
        catalog.add(spec.label, auto_comments=[f"Annex XIII field {spec.key} ({spec.source})"])
    return catalog


def catalogue_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"


def update(locale: str) -> list[str]:
    """Bring ``locale``'s catalogue in line with :func:`extract` (new messages untranslated,
    gone ones dropped); returns the message ids still without a translation."""
    path = catalogue_path(locale)
    if path.exists():
        with path.open("rb") as f:
            catalog = read_po(f, locale=locale)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog = Catalog(project="batpass", locale=locale)
    created = catalog.creation_date
    catalog.update(extract(), no_fuzzy_matching=True)
    catalog.creation_date = created  # an unchanged catalogue stays byte for byte the same
    catalog.obsolete.clear()
    with path.open("wb") as f:
        write_po(f, catalog, width=0, sort_output=True, omit_header=False, include_previous=False)
    return [str(m.id) for m in catalog if m.id and not m.string]


def main() -> int:
    missing = {loc: update(loc) for loc in LOCALES if loc != DEFAULT_LOCALE}
    for loc, ids in missing.items():
        for msgid in ids:
            print(f"{loc}: untranslated: {msgid}", file=sys.stderr)
    return 1 if any(missing.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
