"""The catalogue of words: every sentence a farmer, officer or technician reads, in Vietnamese
(the default and the source of truth for farmers) and English (docs/architecture.md, "Words").

The words live in gettext catalogues, `backend/locale/<lang>/LC_MESSAGES/ruong.po`, one per
language, keyed by a stable message id (`offline`, `irrigation.today`, ...): ids, not source
sentences, because a forecast is stored as its message id and parameters and rendered when it
is read, so a sentence can be reworded without orphaning the points already stored. The `.mo`
files are compiled at install (`make`, setup.py's build step); where one is missing or older
than its `.po` (a plain `pip install -e .`), the `.po` is read instead, so a reader never sees
a message id for want of a build step.

Code marks each id where it is written, so that `pybabel extract` (babel.cfg) finds them all:
`N_("id")` where the id is only named, `Message("id", ...)` where it is stored, `t("id", lang)`
where it is rendered at once. Placeholders are `str.format` fields whose format spec is
rendered in the reader's locale by Babel: `{mm:.0f}` a decimal number (Vietnamese writes
1.234,5), `{day:date}` an ISO date as dd/mm or "3 Dec", `{day:weekday}` its weekday name,
`{at:time}` an ISO time as HH:MM; a parameter that is itself a :class:`Message` is rendered in
the same language, and a list of them is joined with "; ".
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
import logging
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LANGUAGES = ("vi", "en")
DEFAULT = "vi"
DOMAIN = "ruong"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

log = logging.getLogger(__name__)

# Babel's date patterns for the `date` format spec: how each language writes a short day
_DATE_PATTERN = {"vi": "dd/MM", "en": "d MMM"}


def N_(msgid: str) -> str:
    """Mark `msgid` for extraction where it is named but rendered elsewhere (gettext_noop)."""
    return msgid


Param = str | int | float | bool | None


@dataclass(frozen=True)
class Message:
    """A sentence to render later: its message id and parameters (JSON scalars, or messages
    and lists of messages for the parts of a longer sentence)."""

    msgid: str
    params: Mapping[str, Param | Message | Sequence[Message]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The message as JSON-ready data, to store (the `forecasts` measurement's `msg`)."""

        def encode(value: object) -> object:
            if isinstance(value, Message):
                return value.as_json()
            if isinstance(value, list | tuple):
                return [encode(v) for v in value]
            return value

        return {"id": self.msgid, "params": {k: encode(v) for k, v in self.params.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Message:
        """The inverse of :meth:`as_json`; a dict with an `id` is a nested message."""

        def decode(value: Any) -> Any:
            if isinstance(value, dict) and "id" in value:
                return cls.from_json(value)
            if isinstance(value, list):
                return [decode(v) for v in value]
            return value

        params = data.get("params") or {}
        return cls(str(data["id"]), {str(k): decode(v) for k, v in params.items()})


class CatalogueError(RuntimeError):
    """A catalogue file is missing or cannot be read: a broken install, not bad input."""


def _po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalogue of `lang` (Vietnamese for an unknown language)."""
    lang = lang if lang in LANGUAGES else DEFAULT
    po = _po_path(lang)
    mo = po.with_suffix(".mo")
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with open(mo, "rb") as fh:
            return gettext.GNUTranslations(fh)
    if not po.exists():
        raise CatalogueError(f"no catalogue for {lang!r}: {po} is missing (reinstall Ruộng)")
    with open(po, "rb") as fh:
        catalog = read_po(fh, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


class _Formatter(string.Formatter):
    """str.format with numbers, dates and nested messages in the reader's locale."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, Message):
            return render(value, self.lang)
        if isinstance(value, list | tuple):
            return "; ".join(render(v, self.lang) for v in value)
        if format_spec in ("date", "weekday", "time"):
            return self._calendar(value, format_spec)
        if isinstance(value, int | float) and not isinstance(value, bool) and format_spec:
            if format_spec.endswith("f"):
                decimals = int(format_spec[1:-1] or 0) if format_spec.startswith(".") else 0
                pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
                return format_decimal(round(value, decimals), format=pattern, locale=self.lang)
            if format_spec == "d":
                return format_decimal(int(value), format="#,##0", locale=self.lang)
        return super().format_field(value, format_spec)

    def _calendar(self, value: Any, spec: str) -> str:
        if spec == "time":
            moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
            return format_time(moment, "HH:mm", locale=self.lang)
        day = dt.date.fromisoformat(value) if isinstance(value, str) else value
        if spec == "weekday":
            return format_date(day, "EEEE", locale=self.lang)
        return format_date(day, _DATE_PATTERN[self.lang], locale=self.lang)


def t(msgid: str, lang: str, **params: object) -> str:
    """The message `msgid` in `lang` (Vietnamese for an unknown language), with `params`.

    A message id the catalogue lacks is logged and shown as the id itself: a missing word
    must not take a page down (the tests fail on it instead: tests/test_i18n.py).
    """
    lang = lang if lang in LANGUAGES else DEFAULT
    text = translations(lang).gettext(msgid)
    if text == msgid:
        log.warning("message %r has no %s translation", msgid, lang)
    return _Formatter(lang).format(text, **params)


def render(message: Message, lang: str) -> str:
    """A stored or built :class:`Message` as the sentence a reader of `lang` reads."""
    return t(message.msgid, lang, **message.params)


def ago(seconds: float, lang: str) -> str:
    """`seconds` ago as words: seconds under 90 s, minutes under 90 min, else hours."""
    if seconds < 90:
        return t("ago_s", lang, n=max(0, round(seconds)))
    if seconds < 90 * 60:
        return t("ago_min", lang, n=round(seconds / 60))
    return t("ago_h", lang, n=round(seconds / 3600))


def label(quantity: str, lang: str) -> str:
    """The name of a SenML quantity (docs/vocabulary.md) as a reader of `lang` says it."""
    msgid = f"quantity.{quantity}"
    text = translations(lang if lang in LANGUAGES else DEFAULT).gettext(msgid)
    return quantity if text == msgid else text


# the quantity names `label` renders, marked here for extraction
QUANTITY_LABELS = (
    N_("quantity.soil_vwc"),
    N_("quantity.soil_temp"),
    N_("quantity.air_temp"),
    N_("quantity.air_rh"),
    N_("quantity.air_pressure"),
    N_("quantity.rain"),
    N_("quantity.leaf_wet"),
    N_("quantity.water_level"),
    N_("quantity.battery"),
    N_("quantity.rssi"),
)
