"""Build step beyond pyproject.toml: compile the gettext catalogues (backend/locale/*/.po ->
.mo) whenever the package is built or installed, editable installs included, so the words
ship compiled (backend/i18n.py reads a .po itself only where this step did not run)."""

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from setuptools import setup
from setuptools.command.build_py import build_py

LOCALE = Path(__file__).resolve().parent / "backend" / "locale"


class BuildWithCatalogues(build_py):
    def run(self) -> None:
        for po in sorted(LOCALE.glob("*/LC_MESSAGES/*.po")):
            with open(po, "rb") as fh:
                catalog = read_po(fh, locale=po.parts[-3])
            with open(po.with_suffix(".mo"), "wb") as out:
                write_mo(out, catalog)
        super().run()


setup(cmdclass={"build_py": BuildWithCatalogues})
