"""The console's gettext catalogues (locale/{id,en}/LC_MESSAGES/console.po): the same keys in
both, every text filled in, the Indonesian one in Indonesian, and exactly the keys the
templates and modules use (what `pybabel extract -F babel.cfg` finds)."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from aduan_portal.console.i18n import (
    LOCALE_DIR,
    CatalogueError,
    console_strings,
    read_catalogue,
    role_name,
)

PORTAL = Path(__file__).resolve().parents[2]  # services/portal: babel.cfg lives there
SOURCES = PORTAL / "src" / "aduan_portal"

# The same word in both languages, on purpose.
SAME_IN_BOTH = {"status", "sla", "role.validator", "role.administrator", "unit", "filter_unit"}


def entries(lang: str) -> dict[str, str]:
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "console.po").open("rb") as f:
        catalogue = read_po(f)
    assert not [m.id for m in catalogue if m.id and m.fuzzy], f"{lang}: fuzzy entries"
    return {str(m.id): str(m.string) for m in catalogue if m.id}


def test_both_catalogues_have_the_same_keys_and_no_empty_text() -> None:
    indonesian, english = entries("id"), entries("en")
    assert sorted(indonesian) == sorted(english)
    assert len(indonesian) > 250
    for lang, texts in (("id", indonesian), ("en", english)):
        empty = [k for k, v in texts.items() if not v.strip()]
        assert not empty, f"{lang}: no text for {empty}"


def test_the_indonesian_catalogue_is_in_indonesian() -> None:
    indonesian, english = entries("id"), entries("en")
    untranslated = sorted(k for k in indonesian if indonesian[k] == english[k])
    assert set(untranslated) <= SAME_IN_BOTH, f"English left in the id catalogue: {untranslated}"
    known = {
        "logout": ("Keluar", "Sign out"),
        "label_private": ("Privat", "Private"),
        "hidden_marker": ("[disembunyikan]", "[hidden]"),
        "wrong_role": ("Halaman ini bukan untuk peran Anda.", "This page is not for your role."),
        "role.system": ("sistem (otomatis)", "the system (automatic)"),
        "sla_overdue": ("Lewat tenggat", None),
    }
    for key, (id_text, en_text) in known.items():
        assert indonesian[key] == id_text, key
        if en_text is not None:
            assert english[key] == en_text, key
    # What the console hands the templates and the helpers is what the files say.
    assert console_strings("id")["logout"] == "Keluar"
    assert console_strings("en")["logout"] == "Sign out"
    assert role_name("agency-officer", "id") == "Petugas instansi"
    assert role_name("someone-new", "en") == "someone-new"


def extracted_keys() -> set[str]:
    """The keys `pybabel extract -F babel.cfg` finds, through Babel itself."""
    with (PORTAL / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    return {
        str(message)
        for _, _, message, *_ in extract_from_dir(str(SOURCES), method_map, options_map)
    }


def test_the_catalogues_hold_exactly_the_keys_the_console_uses() -> None:
    used = extracted_keys()
    texts = set(entries("id"))
    assert not used - texts, f"used but missing from the catalogues: {sorted(used - texts)}"
    assert not texts - used, f"in the catalogues but unused: {sorted(texts - used)}"
    with (LOCALE_DIR / "console.pot").open("rb") as f:
        template = {str(m.id) for m in read_po(f) if m.id}
    assert template == used, "locale/console.pot is stale: run pybabel extract (docs/console.md)"


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ('msgid "logout"\nmsgstr ""\n', "untranslated"),
        ('#, fuzzy\nmsgid "logout"\nmsgstr "K"\n', "fuzzy"),
    ],
)
def test_an_untranslated_or_fuzzy_text_stops_the_console(
    tmp_path: Path, entry: str, reason: str
) -> None:
    po = tmp_path / "console.po"
    po.write_text('msgid ""\nmsgstr "Language: id\\n"\n\nmsgid "login"\nmsgstr "Masuk"\n\n' + entry)
    with pytest.raises(CatalogueError, match="untranslated or fuzzy"):
        read_catalogue(po, "id")
    po.write_text('msgid ""\nmsgstr "Language: id\\n"\n\nmsgid "login"\nmsgstr "Masuk"\n')
    assert read_catalogue(po, "id") == {"login": "Masuk"}, reason
