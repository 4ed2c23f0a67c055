"""``leaderboard.md``: the board as Markdown a terminal can read.

The CSV keeps the full-width table (every column with its interval, n and exclusions); the Markdown
gives the rows first (model, source, status, full name, what audits found), then one table per
benchmark group, its columns split over several tables where one line would pass :data:`WIDTH`
characters. Each cell is ``value [low, high] n=N`` (x100), as on the page; an empty cell is a
statement, never a blank: ``not run`` where the row has no such run.
"""

from __future__ import annotations

from medbench.core.safe_cells import markdown_lines
from medbench.report.board import Board, Cell, Row, digits, no_value

WIDTH = 160


def _number(x: float, places: int = 2) -> str:
    """Two decimals at most, trailing zeros dropped; more, all shown, where an interval needs them."""
    return f"{x:.{places}f}" if places > 2 else f"{round(x, places):g}"


def cell_text(cell: Cell | None, measured: bool) -> str:
    """One cell: the value with its interval and n, what it leaves out, or why there is no value."""
    if cell is None or cell.value is None:
        return no_value(cell, measured)
    places = max(2, digits(cell.value, cell.low, cell.high))  # enough for the interval to be seen
    text = _number(cell.value, places) + (f" {cell.markers}" if cell.markers else "")
    if cell.low is not None and cell.high is not None:
        text += f" [{_number(cell.low, places)}, {_number(cell.high, places)}]"
    if cell.n is not None and measured:
        text += f" n={cell.n}"
    if cell.excluded not in (None, "0") and measured:
        text += f" ({cell.excluded} excluded)"
    return text


def _row_table(rows: list[Row]) -> list[str]:
    audited = any(r.contamination for r in rows)
    header = ["Model", "Source", "Status", "Model id", *(["Contamination"] if audited else [])]
    lines = []
    for r in rows:
        source = "measured" if r.measured else f"reported ({'; '.join(r.sources)})"
        lines.append([r.model, source, r.status, r.identity, *([r.contamination or ""] if audited else [])])
    return markdown_lines(header, lines, "l" * len(header))


def _chunks(keys: list[str], texts: dict[str, list[str]], first: int, width: int) -> list[list[str]]:
    """The group's columns in runs whose table lines stay within ``width`` (one column at least)."""
    out: list[list[str]] = []
    used = width
    for key in keys:
        wide = max(len(key), *(len(t) for t in texts[key])) + 3
        if used + wide > width and (not out or used > first):
            out.append([])
            used = first
        out[-1].append(key)
        used += wide
    return out


def markdown(board: Board, width: int = WIDTH) -> str:
    """The rows table, then each benchmark group's tables (values x100)."""
    out = [
        "Rows (values x100 below: value [95% interval] n=items; the CSV has every column in one table)",
        "",
    ]
    out += _row_table(board.rows)
    labels = [r.model for r in board.rows]
    first = max((len(label) for label in labels), default=5) + 4
    for group in board.groups:
        keys = [c.key for c in group.columns]
        shown = [r for r in board.rows if any(k in r.cells for k in keys)]
        texts = {k: [cell_text(r.cells.get(k), r.measured) for r in shown] for k in keys}
        for part, chunk in enumerate(_chunks(keys, texts, first, width), start=1):
            many = len(keys) > len(chunk)
            out += ["", f"## {group.name}" + (f" ({part})" if many else ""), ""]
            rows = [[r.model, *(texts[k][i] for k in chunk)] for i, r in enumerate(shown)]
            out += markdown_lines(["Model", *chunk], rows, "l" + "r" * len(chunk))
    if board.legend:
        out += ["", *(f"{letter}: {source}" for letter, source in board.legend.items())]
    return "\n".join(out) + "\n"
