"""The leaderboard page's table: one row per model, columns grouped under their benchmark.

Measured rows come from the run folders (each cell: the main metric x100, its 95% interval (from
metrics.json: Wilson or bootstrap), the items it rests on and those excluded, and a link to the task's page).
Published numbers of every paper table are merged into one row per model name, each cell marked with
its source (a footnote letter, explained in the legend) -- never averaged with measured ones. Bias
scale means and judge win rates join the row of the model they measured. Column groups come from
``reports/benchmarks.yaml`` (which also says what guessing scores on a multiple-choice benchmark).
"""

from __future__ import annotations

import functools
import string
from dataclasses import dataclass, field

import pandas as pd

from medbench.analysis.compare import ALPHA, pooled
from medbench.audit.clean import METRIC as CLEAN
from medbench.config.plugin_files import BenchmarkGroup, checked
from medbench.core.errors import MedbenchError
from medbench.core.paths import plugin_dir
from medbench.report.build import (
    Headline,
    column_label,
    excluded,
    main_metric,
    measured,
    members,
    published_records,
    row_status,
    shown_runs,
)
from medbench.report.folders import Folder


@dataclass
class Column:
    key: str  # the leaderboard's column label, e.g. "ceval_med (acc, micro)"
    group: str
    task: str | None  # the task page it links to
    heading: str  # the task (or what the column measures)
    metric: str
    published_only: bool = False  # no measured row has a value here (hidden with the papers' rows)


@dataclass
class Cell:
    value: float | None
    low: float | None = None  # the 95% interval, x100
    high: float | None = None
    n: int | None = None
    excluded: str = "0"
    markers: str = ""  # footnote letters of published values
    link: str | None = None
    note: str = ""  # hover text
    tied: str = ""  # not significantly different from the next higher measured value: why (hover)


def digits(value: float, low: float | None = None, high: float | None = None) -> int:
    """Decimals enough for a cell's interval to be seen: one, or more until its ends and the value
    print apart (a CAMI score 3.008 [2.97, 3.04] is not "3.0 [3.0, 3.0]"), at most four."""
    for places in range(1, 5):
        shown = {f"{x:.{places}f}" for x in (low, value, high) if x is not None}
        if low is None or high is None or low == high or len(shown) == len({low, value, high}):
            return places
    return 4


def no_value(cell: Cell | None, measured: bool) -> str:
    """Why a cell holds no number, in words (the Markdown board and the page say the same): a measured
    model's task that no run of its row scored is "not run"; a score resting on no item, "0 items
    answered"; a published model's, nothing (the papers did not report it)."""
    if cell is None:
        return "not run" if measured else ""
    if cell.n == 0:
        return "0 items answered"
    return f"no score (n={cell.n})" if cell.n is not None else "no score"


@dataclass
class Row:
    model: str
    measured: bool
    identity: str = ""
    status: str = ""
    cells: dict[str, Cell] = field(default_factory=dict)
    averages: dict[str, float | None] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)  # a published row's paper tables
    contamination: str = ""  # what contamination audits of its runs found (empty: none audited)
    contaminated: bool = False  # an audit flagged some of its items
    #: audit source -> [flagged, scored] over the runs whose scores the row shows
    audits: dict[str, list[int]] = field(default_factory=dict, repr=False)

    def audited(self, record: dict, tasks: set[str]) -> None:
        """Add a run's clean.json to the row for the ``tasks`` whose cells that run supplies (a task a
        later run scored again counts once, from the run the row shows): how many scored items an
        audit flagged, summed per kind of audit -- one statement, not one per run."""
        shown = [t for name, t in record["tasks"].items() if name in tasks]
        counts = self.audits.setdefault(record["source"], [0, 0])
        counts[0] += sum(t.get("flagged_left_out", 0) for t in shown)
        counts[1] += sum(t.get("scored", 0) for t in shown)
        self.contaminated = any(flagged for flagged, _ in self.audits.values())
        self.contamination = "; ".join(
            f"{flagged} of {scored} scored items flagged ({source} audit)"
            for source, (flagged, scored) in self.audits.items()
        )


@dataclass
class Group:
    name: str
    columns: list[Column]
    chance: dict | None
    averaged: list[str]  # the columns whose mean each row shows (none: no average column)


@dataclass
class Board:
    groups: list[Group]
    rows: list[Row]
    legend: dict[str, str]  # footnote letter -> source


@functools.lru_cache(maxsize=1)
def benchmarks() -> dict[str, dict]:
    return checked(plugin_dir("reports") / "benchmarks.yaml", dict[str, BenchmarkGroup])


def group_of(task: str) -> str:
    """The benchmark a task is reported under: the group with the longest matching name prefix."""
    best, length = "Other", 0
    for name, spec in benchmarks().items():
        for prefix in spec["tasks"]:
            if (task == prefix or task.startswith(prefix + "_")) and len(prefix) > length:
                best, length = name, len(prefix)
    return best


class Rows:
    """Measured rows, one per model and settings: every run folder of one model (same full name and
    fingerprint) run with the same answer- and item-changing settings shares a row (its label), and a
    cell only ever shows a score from a run whose settings its row names. Bias and judge cells measure
    the model, not a run's settings: they join the model's row -- of several, the one whose shown
    settings are all defaults -- and keep a row of their own (labelled by their own settings) where
    there is no such row, where it has a cell of theirs, or where the model's bias runs differ."""

    def __init__(self, status: dict[str, str]) -> None:
        self.status = status  # label -> complete | incomplete (...), of the runs each row shows
        self.by_identity: dict[str, list[tuple[Row, str]]] = {}
        self.plain: dict[str, bool] = {}  # run row label -> its shown settings are all defaults

    def cells(self, folder: Folder, keys: list[str]) -> dict[str, Cell]:
        """The cell dict of the row the folder's cells ``keys`` go to."""
        rows = self.by_identity.setdefault(folder.identity or folder.model, [])
        label = folder.model if folder.kind == "run" else f"{folder.model} ({folder.kind})"
        if folder.kind == "run":
            self.plain.setdefault(label, folder.plain)
        elif not folder.differing:  # one kind of bias (or judge) folder for this model: its row
            runs = [(held, row) for row, held in rows if held in self.status]
            free = [(held, row) for held, row in runs if not any(k in row.cells for k in keys)]
            if len(runs) > 1:  # several settings: the row whose shown settings are the defaults
                free = [(held, row) for held, row in free if self.plain.get(held)]
            if len(free) == 1:
                return free[0][1].cells
        row = next((row for row, held in rows if held == label), None)
        if row is None:
            row = Row(folder.name or folder.model, True, folder.full_name, self.status.get(label, ""))
            rows.append((row, label))
        return row.cells

    def audited(self, folder: Folder, tasks: set[str]) -> None:
        """Mark the folder's row with the audit of a run whose scores of ``tasks`` it shows."""
        if folder.contamination:
            rows = self.by_identity.get(folder.identity or folder.model, [])
            row = next((row for row, held in rows if held == folder.model), None)
            if row is not None:
                row.audited(folder.contamination, tasks)

    def rows(self) -> list[Row]:
        out = []
        for rows in self.by_identity.values():
            for row, label in rows:
                row.model = label if len(rows) > 1 else row.model
                row.status = row.status or "complete"
                out.append(row)
        return out


def _measured(runs: list[Folder], rows: Rows, headline: Headline, every_task: bool) -> dict[str, Column]:
    table = measured(runs)
    shown_by = shown_runs(runs)
    tasks = sorted({task for scores in table.values() for task, _, _ in scores})
    groups = {t for scores in table.values() for t, _, c in scores if c == "micro"}
    inside = {leaf for g in groups for leaf in members(g) if leaf != g}  # shown on the group's page
    shown = [t for t in tasks if every_task or t not in inside]
    folder = {model: max(tasks.values(), key=lambda f: f.path.name) for model, tasks in shown_by.items()}
    columns: dict[str, Column] = {}
    for model, scores in table.items():
        cells = {}
        for task in shown:
            picked = main_metric(scores, task, headline)
            if not picked:
                continue
            shown_metrics = [picked]
            if picked != (CLEAN, "") and (task, CLEAN, "") in scores:  # beside it: the clean items
                shown_metrics.append((CLEAN, ""))
            for metric in shown_metrics:
                s = scores[(task, *metric)]
                key = column_label(task, *metric)
                columns.setdefault(key, Column(key, group_of(task), task, task, metric[0]))
                cells[key] = _cell(s, task)
        rows.cells(folder[model], list(cells)).update(cells)
        for run in {id(r): r for r in shown_by[model].values()}.values():
            rows.audited(run, {task for task, shown in shown_by[model].items() if shown is run})
    for column in columns.values():
        if column.metric == "acc":
            _mark_ties(column, [(folder[m], rows.cells(folder[m], [])) for m in table])
    return columns


def _cell(s: dict, task: str) -> Cell:
    """A score as a leaderboard cell (x100), with its interval, n and exclusions."""
    low, high = s.get("ci_low"), s.get("ci_high")
    return Cell(
        None if s["value"] is None else 100 * s["value"],
        None if low is None else 100 * low,
        None if high is None else 100 * high,
        s["n"],
        excluded(s),
        link=f"tasks/{task}.html",
    )


def _mark_ties(column: Column, measured_cells: list[tuple[Folder, dict[str, Cell]]]) -> None:
    """In value order, mark each cell whose difference from the next higher one is not significant
    (exact McNemar on the items both runs scored, a group's subjects pooled); a pair that cannot be
    compared (no shared items, other gold answers) gets no mark."""
    ranked = sorted(
        ((run, cells[column.key]) for run, cells in measured_cells if column.key in cells),
        key=lambda pair: -(pair[1].value if pair[1].value is not None else float("-inf")),
    )
    ranked = [(run, cell) for run, cell in ranked if cell.value is not None]
    for (upper, _), (lower, cell) in zip(ranked, ranked[1:], strict=False):
        try:
            result = pooled(lower.path, upper.path, members(column.task), column.task)
        except MedbenchError:
            continue
        if result is not None and result.p >= ALPHA:
            cell.tied = f"not significantly different from {upper.model} ({result.test} p = {result.p:.3g})"


def _published(columns: dict[str, Column]) -> tuple[list[Row], dict[str, str]]:
    """The papers' numbers for the shown columns, one row per model name (kept apart from any
    measured row of that name), and the footnote legend."""
    rows: dict[str, Row] = {}
    legend: dict[str, str] = {}
    letters: dict[str, str] = {}
    for record in published_records(list(columns)):
        source = f"{record['paper']} {record['table']}"
        marker = letters.setdefault(source, string.ascii_lowercase[len(letters) % 26])
        legend[marker] = f"{source} (reported by the paper)"
        key = record["label"]
        if key not in columns:  # the paper measured something else: its own column beside ours
            column = Column(key, group_of(record["task"]), None, record["name"], record["metric"], True)
            columns[key] = column
        row = rows.setdefault(record["model"], Row(record["model"], False))
        if source not in row.sources:
            row.sources.append(source)
        cell = row.cells.get(key)
        if cell is None:
            row.cells[key] = Cell(record["value"], markers=marker, note=source)
        elif cell.value != record["value"]:  # two sources disagree: both shown, neither chosen
            cell.note += f"; {source}: {record['value']}"
            cell.markers = cell.markers.rstrip("*") + ("" if marker in cell.markers else marker) + "*"
        elif marker not in cell.markers:
            cell.markers += marker
    return list(rows.values()), legend


def _extras(folders: list[Folder], rows: Rows, columns: dict[str, Column]) -> None:
    """Bias scale means and judge win rates, in the row of the model they measured."""
    by_folder = {f.path.name: f for f in folders if f.kind == "run"}
    for bias in (f for f in folders if f.kind == "bias"):
        for s in bias.data:
            key = f"{s['scale'].upper()} mean"
            columns.setdefault(key, Column(key, "Bias", None, s["scale"].upper(), f"mean {s['range']}"))
            low, high = (None, None) if s["mean"] is None else s["ci95"]
            rows.cells(bias, [key])[key] = Cell(s["mean"], low, high, s["items_answered"], link="#bias")
    for judge in (f for f in folders if f.kind == "judge" and "dimensions" in f.data):
        data = judge.data
        dim, stats = next(iter(data["dimensions"].items()))
        a, b = by_folder.get(data["model_a"]), by_folder.get(data["model_b"])
        if a is None:  # the judged run is not in this report
            continue
        key = f"win % vs {b.model if b else data['model_b']} ({data['task']})"
        heading = f"vs {b.name if b else data['model_b']}"
        columns.setdefault(key, Column(key, "Judge", None, heading, f"win % ({dim})"))
        rate = stats["rates"].get("win")
        low, high = (stats.get("ci95") or {}).get("win") or (None, None)
        rows.cells(a, [key])[key] = Cell(
            None if rate is None else 100 * rate,
            None if low is None else 100 * low,
            None if high is None else 100 * high,
            stats["judged"],
            link=f"#judge-{judge.path.name}",
        )


def board(
    folders: list[Folder], with_published: bool = True, headline: Headline = None, every_task: bool = False
) -> Board:
    """The leaderboard of these folders; ``every_task`` keeps the columns of a group's member tasks
    (the page shows those on the group's own page)."""
    runs = [f for f in folders if f.kind == "run"]
    rows = Rows(row_status(runs))
    columns = _measured(runs, rows, headline, every_task)
    _extras(folders, rows, columns)
    published, legend = _published(columns) if with_published else ([], {})
    every = [*rows.rows(), *published]
    groups = []
    for name in [*benchmarks(), "Judge", "Bias", "Other"]:
        cols = sorted((c for c in columns.values() if c.group == name), key=lambda c: c.key)
        if cols:
            groups.append(Group(name, cols, benchmarks().get(name, {}).get("chance"), _averaged(cols)))
    for row in every:
        for g in groups:
            values = [row.cells[k].value if k in row.cells else None for k in g.averaged]
            complete = bool(g.averaged) and all(v is not None for v in values)
            row.averages[g.name] = sum(values) / len(values) if complete else None
    # a measured row stays even when no score could be computed (every item failed): it says why
    visible = [r for r in every if r.measured or any(c.value is not None for c in r.cells.values())]
    visible.sort(key=lambda r: (not r.measured, r.model.casefold()))
    return Board(groups, visible, legend)


def _averaged(columns: list[Column]) -> list[str]:
    """The columns a group's average is taken over: its measured tasks, when there are several of one
    metric (a task and its other scoring mode are one task: no average of the two)."""
    tasks = [c for c in columns if c.task and not c.published_only]
    bases = {c.task.removesuffix("_gen").removesuffix("_loglik") for c in tasks}
    if len(tasks) < 2 or len({c.metric for c in tasks}) > 1 or len(bases) < len(tasks):
        return []
    return [c.key for c in tasks]


def leaderboard(
    folders: list[Folder], with_published: bool = False, headline: Headline = None
) -> pd.DataFrame:
    """The same board as the page (its rows, in its order), flat for leaderboard.md and .csv: per
    column the value (x100), and for measured columns the items it rests on and those excluded."""
    grouped = board(folders, with_published, headline, every_task=True)
    columns = [c for g in grouped.groups for c in g.columns]
    records = []
    for row in grouped.rows:
        source = "measured" if row.measured else f"reported ({'; '.join(row.sources)})"
        record = {"model": row.model, "source": source, "status": row.status, "model_id": row.identity}
        for column in columns:
            cell = row.cells.get(column.key)
            record[column.key] = None if cell is None or cell.value is None else round(cell.value, 2)
            if not column.published_only:
                low, high = (cell.low, cell.high) if cell and row.measured else (None, None)
                record[f"{column.key} low"] = None if low is None else round(low, 2)
                record[f"{column.key} high"] = None if high is None else round(high, 2)
                record[f"{column.key} n"] = cell.n if cell and row.measured else None
                record[f"{column.key} excluded"] = cell.excluded if cell and row.measured else None
        if any(r.contamination for r in grouped.rows):  # a column only where some run was audited
            record["contamination"] = row.contamination or None
        records.append(record)
    table = pd.DataFrame(records, columns=["model", "source", "status", "model_id"] if not records else None)
    for name in (c for c in table.columns if c.endswith(" n")):
        table[name] = table[name].astype("Int64")  # item counts stay integers beside empty cells
    return table
