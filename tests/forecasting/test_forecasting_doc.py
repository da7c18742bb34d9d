"""docs/forecasting.md quotes the soil-moisture backtest as `python -m forecasting.backtest`
prints it today, and the command rewrites only the page's marked block."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

from forecasting import backtest

DOC = Path(__file__).resolve().parents[2] / "docs" / "forecasting.md"
COMMAND = "python -m forecasting.backtest --write-docs docs/forecasting.md"


def test_write_docs_rewrites_only_the_marked_block() -> None:
    page = f"# Title\n\nprose\n{backtest.BEGIN}\nold\nlines\n{backtest.END}\nmore prose\n"
    assert backtest.rewrite_block(page, "new\n") == (
        f"# Title\n\nprose\n{backtest.BEGIN}\nnew\n{backtest.END}\nmore prose\n"
    )
    with pytest.raises(ValueError, match="backtest:begin"):
        backtest.rewrite_block("# a page without the markers\n", "new\n")


def test_the_forecasting_doc_quotes_the_backtest_as_printed(tmp_path: Path) -> None:
    regenerated = tmp_path / "forecasting.md"
    shutil.copy(DOC, regenerated)
    assert backtest.main(["--write-docs", str(regenerated)]) == 0
    quoted, printed = DOC.read_text(), regenerated.read_text()
    diff = "\n".join(
        difflib.unified_diff(
            quoted.splitlines(), printed.splitlines(), "docs", "printed", lineterm="", n=0
        )
    )
    assert quoted == printed, f"docs/forecasting.md is stale; run `{COMMAND}`:\n{diff}"
