"""Table cells made safe for the files a report writes: no CSV cell a spreadsheet would run as a
formula, no Markdown cell that splits its row."""

from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula get a leading ``'`` (OWASP's advice)."""
    return df.map(lambda v: f"'{v}" if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v)


def markdown_safe(df: pd.DataFrame) -> str:
    """A Markdown table whose text cells cannot break its columns."""
    cells = df.astype(object).where(df.notna(), "")  # an empty cell, never "nan" or "<NA>"
    cells = cells.map(lambda v: v.replace("|", "\\|").replace("\n", " ") if isinstance(v, str) else v)
    return cells.to_markdown(index=False)
