"""Add or update words in both catalogues (backend/locale/{vi,en}/LC_MESSAGES/ruong.po).

    python scripts/catalogue_add.py words.json
    python scripts/catalogue_add.py --remove msgid [msgid ...]

`words.json` is a list of [msgid, vietnamese, english, comment-or-null]. The catalogues are
rewritten sorted, 100 columns wide, as tests/test_i18n.py expects; an exclusive lock on the
Vietnamese catalogue lets several people add words at once without losing any.
"""

from __future__ import annotations

import fcntl
import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

LOCALE = Path(__file__).resolve().parents[1] / "backend" / "locale"


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / "ruong.po"


def add(words: list[list[str | None]], remove: tuple[str, ...] = ()) -> None:
    """Add (or replace) `words` and delete the ids in `remove`, in both catalogues."""
    with open(po_path("vi"), "rb+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for index, lang in ((1, "vi"), (2, "en")):
            path = po_path(lang)
            with open(path, "rb") as fh:
                catalog = read_po(fh, locale=lang)
            for entry in words:
                msgid, text, comment = entry[0], entry[index], entry[3]
                assert msgid and text, f"{entry!r}: an id and both sentences are needed"
                if msgid in catalog:
                    del catalog[msgid]
                catalog.add(msgid, text, auto_comments=[comment] if comment else ())
            for msgid in remove:
                if msgid not in catalog:
                    raise SystemExit(f"{msgid!r} is not in {path}")
                del catalog[msgid]
            with open(path, "wb") as fh:
                write_po(fh, catalog, width=100, sort_output=True)


if __name__ == "__main__":
    if sys.argv[1] == "--remove":
        add([], tuple(sys.argv[2:]))
    else:
        add(json.loads(Path(sys.argv[1]).read_text()))
