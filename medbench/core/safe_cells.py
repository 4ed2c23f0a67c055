"""Table cells made safe for the files medbench writes: no CSV cell a spreadsheet would run as a
formula, no Markdown cell that splits its row. Every Markdown table medbench prints goes through
:func:`markdown_safe` (a DataFrame) or :func:`markdown_lines` (the compact tables of results.md and the
console)."""

from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula gets a leading ``'`` (OWASP's advice)."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def spreadsheet_text(cell: str) -> str:
    """A cell of a sheet medbench wrote, read back: the ``'`` :func:`spreadsheet_cell` added is taken off."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


def spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Every text cell of a table made safe with :func:`spreadsheet_cell`."""
    return df.map(spreadsheet_cell)


def markdown_safe(df: pd.DataFrame) -> str:
    """A Markdown table whose text cells cannot break its columns."""
    cells = df.astype(object).where(df.notna(), "")  # an empty cell, never "nan" or "<NA>"
    cells = cells.map(lambda v: v.replace("|", "\\|").replace("\n", " ") if isinstance(v, str) else v)
    return cells.to_markdown(index=False)


def markdown_cell(value: object) -> str:
    """One cell's text: a ``|`` escaped, a line break a space (a name from a file cannot add a column)."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_lines(header: list[str], rows: list[list], align: str) -> list[str]:
    """A compact Markdown table (``| a | b |``) as lines; ``align`` has one letter per column, ``l``
    or ``r``. Every cell is escaped (:func:`markdown_cell`)."""
    if len(align) != len(header):
        raise ValueError(f"align {align!r} does not give one letter per column of {header}")
    rule = "|" + "".join("---:|" if a == "r" else "---|" for a in align)
    return [
        "| " + " | ".join(map(markdown_cell, header)) + " |",
        rule,
        *("| " + " | ".join(map(markdown_cell, row)) + " |" for row in rows),
    ]
