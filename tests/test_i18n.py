"""The catalogue of words (backend/i18n.py): every message the code names has its Vietnamese
and English sentence, and a stored message renders in the reader's language."""

from __future__ import annotations

import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from backend import i18n
from backend.i18n import LANGUAGES, Message, render, t

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("backend", "dashboard", "forecasting", "gateway", "hardware", "ruong")
# the markers babel.cfg documents: `pybabel extract -k N_ -k t -k Message`
KEYWORDS = {"N_": None, "t": None, "Message": None}


def extracted() -> dict[str, list[str]]:
    """Every message id `pybabel extract` finds in the packages, with where it stands."""
    found: dict[str, list[str]] = {}
    for package in PACKAGES:
        for filename, lineno, msgid, _, _ in extract_from_dir(
            ROOT / package, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            key = msgid[0] if isinstance(msgid, tuple) else msgid
            found.setdefault(key, []).append(f"{package}/{filename}:{lineno}")
    return found


def catalogue(lang: str) -> Catalog:
    with open(i18n.LOCALE_DIR / lang / "LC_MESSAGES" / f"{i18n.DOMAIN}.po", "rb") as fh:
        return read_po(fh, locale=lang)


def entries(lang: str) -> Iterator[tuple[str, str]]:
    for message in catalogue(lang):
        if message.id:
            yield str(message.id), str(message.string)


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.fixture(scope="module")
def ids() -> dict[str, list[str]]:
    return extracted()


def test_extraction_finds_the_messages_of_every_layer(ids: dict[str, list[str]]) -> None:
    places = {where.split("/")[0] for wheres in ids.values() for where in wheres}
    assert {"backend", "dashboard", "forecasting", "ruong"} <= places
    assert "irrigation.today" in ids and "awd.reflood" in ids and "offline" in ids


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_has_its_sentence(lang: str, ids: dict[str, list[str]]) -> None:
    translated = {msgid: text for msgid, text in entries(lang) if text.strip()}
    missing = {msgid: where for msgid, where in ids.items() if msgid not in translated}
    assert not missing, f"{lang}.po lacks these messages (msgid: where the code names it)"


def test_the_catalogues_hold_no_message_the_code_no_longer_names(
    ids: dict[str, list[str]],
) -> None:
    for lang in LANGUAGES:
        stale = {msgid for msgid, _ in entries(lang)} - set(ids)
        assert not stale, f"{lang}.po: no code names {sorted(stale)}"


def test_both_languages_take_the_same_parameters() -> None:
    english = dict(entries("en"))
    for msgid, vietnamese in entries("vi"):
        assert fields(vietnamese) == fields(english[msgid]), msgid


def test_no_entry_is_fuzzy() -> None:
    for lang in LANGUAGES:
        fuzzy = [m.id for m in catalogue(lang) if m.id and m.fuzzy]
        assert not fuzzy, f"{lang}.po: fuzzy entries are not used by gettext: {fuzzy}"


def test_vietnamese_is_the_default_and_an_unknown_language_falls_back_to_it() -> None:
    assert i18n.DEFAULT == "vi"
    assert t("all_good", "fr") == t("all_good", "vi") != t("all_good", "en")


def test_numbers_and_dates_are_written_as_each_reader_writes_them() -> None:
    amount = Message("irrigation.amount", {"mm": 25, "m3": 1234.5})
    assert render(amount, "vi") == "25 mm (khoảng 1.234,5 m³ cho ruộng này)"
    assert render(amount, "en") == "25 mm (about 1,234.5 m³ for this field)"
    due = Message("irrigation.due", {"due": "2026-12-10", "days": 3, "amount": amount})
    assert render(due, "vi").startswith("Tưới vào ngày 10/12 (3 ngày nữa): 25 mm")
    assert render(due, "en").startswith("Irrigate on 10 Dec (in 3 days): 25 mm")


def test_a_stored_message_comes_back_the_same() -> None:
    where = Message("awd.where.below", {"cm": 18})
    stored = Message("awd.reflood", {"where": where, "limit_cm": 15, "target_cm": 5})
    again = Message.from_json(stored.as_json())
    assert again == stored
    assert render(again, "vi").startswith("Mực nước 18 cm dưới mặt ruộng (ngưỡng 15 cm)")


def test_a_message_missing_from_the_catalogue_shows_its_id_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert t("no.such.message", "vi") == "no.such.message"
    assert "no.such.message" in caplog.text


def test_the_catalogue_is_read_from_its_po_when_no_mo_was_compiled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for lang in LANGUAGES:
        target = tmp_path / lang / "LC_MESSAGES"
        target.mkdir(parents=True)
        po = i18n.LOCALE_DIR / lang / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
        (target / po.name).write_bytes(po.read_bytes())
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.translations.cache_clear()
    try:
        assert t("all_good", "vi") == "Không cần làm gì lúc này"
    finally:
        i18n.translations.cache_clear()
