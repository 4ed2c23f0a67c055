"""``medbench report``: leaderboards, paper-style tables, pages and plots from run, judge and bias
folders.

Nothing is recomputed: every number comes from a folder's ``metrics.json`` / ``summary.json``.
Outputs under ``--out``: ``leaderboard.md``/``.csv`` (every measured column with its n and
exclusions), ``tables/<paper table>.{md,csv,tex}`` with the published rows beside the measured ones
(marked "reported", never averaged with ours), and with ``html``: ``index.html`` (the grouped
leaderboard), ``tasks/<task>.html``, ``papers/<table>.html`` and ``plots/<name>.{png,svg}``. A run
folder without ``metrics.json`` (a killed run) is listed as incomplete and skipped. Text cells are made
safe for spreadsheets (no formula can start a CSV cell) and for Markdown (a ``|`` in a name does not
split a row).
"""

from __future__ import annotations

from pathlib import Path

from medbench.audit.clean import CLEAN_ONLY, only_clean
from medbench.core.safe_cells import markdown_safe, spreadsheet_safe
from medbench.core.writing import make_folder, write_text
from medbench.report.board import board as grouped
from medbench.report.board import leaderboard
from medbench.report.build import Headline, check_headline, paper_tables
from medbench.report.folders import collect
from medbench.report.markdown import markdown as leaderboard_markdown
from medbench.report.stage_changes import markdown as stage_markdown
from medbench.report.stage_changes import recipe_changes


def build(
    paths: list[str],
    out: str,
    formats: list[str],
    with_published: bool = True,
    tables: list[str] | None = None,
    headline: Headline = None,
    clean_only: bool = False,
) -> Path:
    check_headline(headline)
    folders, incomplete = collect(paths)
    if clean_only:
        folders = only_clean(folders)
    runs = [f for f in folders if f.kind == "run"]
    target = Path(out)
    make_folder(target, "the report")
    board = leaderboard(folders, with_published, headline)
    tables = paper_tables(runs, with_published, tables)
    skipped_note = "".join(f"\n- left out: {p} ({why})" for p, why in incomplete)
    if "md" in formats:
        write_text(
            target / "leaderboard.md",
            (CLEAN_ONLY if clean_only else "")
            + leaderboard_markdown(grouped(folders, with_published, headline, every_task=True))
            + (f"\nRun folders not reported:{skipped_note}\n" if incomplete else ""),
        )
    if "csv" in formats:
        write_text(target / "leaderboard.csv", spreadsheet_safe(board).to_csv(index=False))
    table_dir = target / "tables"
    make_folder(table_dir, "the report's tables")
    for name, (title, df) in tables.items():
        if "md" in formats:
            write_text(table_dir / f"{name}.md", f"{title}\n\n{markdown_safe(df)}\n")
        if "csv" in formats:
            write_text(table_dir / f"{name}.csv", spreadsheet_safe(df).to_csv(index=False))
        if "latex" in formats:
            write_text(
                table_dir / f"{name}.tex", df.to_latex(index=False, na_rep="--", caption=title, escape=True)
            )
    stage_lines = recipe_changes(runs)
    if stage_lines and "md" in formats:
        write_text(target / "stages.md", stage_markdown(stage_lines))
    if "html" in formats:
        from medbench.report.html import write_pages
        from medbench.report.plots import extra_plots, plot_tasks, stage_progression

        plot_tasks(runs, target / "plots", headline)
        stage_progression(runs, target / "plots")
        extra_plots(folders, target / "plots")
        write_pages(
            target, folders, grouped(folders, with_published, headline), tables, incomplete, stage_lines
        )
    return target
