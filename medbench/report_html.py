"""The report's HTML page (a Jinja template in ``reports/templates``, every model and data text
escaped) and the cell escaping that keeps CSV and Markdown outputs safe."""

from __future__ import annotations

import json

import pandas as pd

from medbench.folders import Folder
from medbench.paths import plugin_dir

SAMPLES_SHOWN = 20


def _samples(run: Folder) -> dict[str, list[dict]]:
    out = {}
    for file in sorted((run.path / "samples").glob("*.jsonl")):
        out[file.stem] = [
            json.loads(x) for x in file.read_text(encoding="utf-8").splitlines()[:SAMPLES_SHOWN]
        ]
    return out


def html(folders: list[Folder], board: pd.DataFrame, tables: dict, incomplete=()) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(plugin_dir("reports") / "templates"),
        autoescape=True,  # every piece of model or data text is escaped
    )
    runs = [f for f in folders if f.kind == "run"]
    return env.get_template("index.html.j2").render(
        columns=[c for c in board.columns if not c.endswith((" n", " excluded")) and c != "model_id"],
        incomplete=[(str(p), why) for p, why in incomplete],
        board=board.to_dict("records"),
        tables={
            name: (title, df.to_dict("records"), list(df.columns)) for name, (title, df) in tables.items()
        },
        runs=[
            {"model": r.model, "path": r.path.name, "samples": _samples(r), "metrics": r.data} for r in runs
        ],
        judges=[f for f in folders if f.kind == "judge"],
        bias=[f for f in folders if f.kind == "bias"],
        json=json,
    )


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula get a leading ``'`` (OWASP's advice)."""
    return df.map(lambda v: f"'{v}" if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v)


def markdown_safe(df: pd.DataFrame) -> str:
    """A Markdown table whose text cells cannot break its columns."""
    cells = df.astype(object).where(df.notna(), "")  # an empty cell, never "nan" or "<NA>"
    cells = cells.map(lambda v: v.replace("|", "\\|").replace("\n", " ") if isinstance(v, str) else v)
    return cells.to_markdown(index=False)
