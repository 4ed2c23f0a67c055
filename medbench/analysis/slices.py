"""Per-slice scores (``--slice-by COLUMN``): a task's accuracy within each value of a per-item field.

A field is any annotation the benchmark's file gives an item -- CMExam's disease group, clinical
department, medical discipline, area of competency and difficulty level, kept under ``fields`` in each
per-sample record -- or ``subject``: the subject task an item belongs to (C-Eval, CMMLU). Each slice
states the questions it rests on and a 95% interval over them (Wilson; the Wilson bound for a
--circular question's share of right rotations); questions whose request failed are left out and
counted, and items without the field are counted as such, never guessed into a slice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from medbench.analysis import intervals
from medbench.analysis.plugin import Analysis, Context, Finding
from medbench.core import units
from medbench.core.errors import MedbenchError
from medbench.core.safe_cells import markdown_lines

SUBJECT = "subject"
MISSING = "(no value)"


@dataclass
class Slice:
    task: str
    column: str
    value: str
    n: int  # questions
    correct: float  # question-weighted (a --circular question: its share of right rotations)
    ci_low: float | None
    ci_high: float | None
    n_failed: int = 0
    ci_method: str = ""

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.n if self.n else None


def item_columns(docs) -> set[str]:
    """The per-item fields a task's items give (``fields`` of each doc), for :func:`check_columns`."""
    return {name for doc in docs for name in (doc.get("fields") or {})}


def check_columns(columns: list[str], available: dict[str, set[str]]) -> None:
    """Each ``--slice-by`` column is ``subject`` or a field some task of the run gives its items
    (``available``: task -> its columns), checked before the model loads: a misspelt column would
    otherwise be one "(no value)" slice holding every item. One line names the column and the
    columns the tasks have."""
    for column in columns:
        if column == SUBJECT or any(column in names for names in available.values()):
            continue
        tasks = sorted(available)
        named = ", ".join(tasks[:3]) + (f" and {len(tasks) - 3} more" if len(tasks) > 3 else "")
        have = sorted(set().union(*available.values()))
        shown = ", ".join(have[:20]) + (" ..." if len(have) > 20 else "") if have else "none"
        raise MedbenchError(
            f"--slice-by {column[:80]!r}: no item of {named} has that column; "
            f"{'its' if len(tasks) == 1 else 'their'} columns: {shown} (or {SUBJECT})"
        )


def _group(task: str, subjects: dict[str, str]) -> str:
    return subjects.get(task, task)


def slices(
    records: dict[str, list[dict]], columns: list[str], subjects: dict[str, str] | None = None
) -> list[Slice]:
    """Per (task, column, value): accuracy over the scored questions of a run's per-sample records
    (the unit, :mod:`medbench.core.units`: a --circular question counts once, as the mean of its rotations,
    and is left out, counted as failed, when a rotation failed). ``subjects``: leaf task -> its group,
    so ``--slice-by subject`` slices a group by its subjects."""
    subjects = subjects or {}
    values: dict[tuple[str, str, str], list[float]] = {}
    failed: dict[tuple[str, str, str], int] = {}
    for task, items in records.items():
        for group in units.by_unit(r for r in items if "correct" in r).values():
            first = group[0]  # not right-or-wrong (open generation): no accuracy to slice
            for column in columns:
                if column == SUBJECT:
                    key = (_group(task, subjects), column, task)
                else:
                    value = (first.get("fields") or {}).get(column)
                    key = (task, column, str(value).strip() if value not in (None, "") else MISSING)
                if units.complete(group):
                    score = sum(bool(r["correct"]) for r in group) / len(group)
                    values.setdefault(key, []).append(score)
                else:
                    values.setdefault(key, [])
                    failed[key] = failed.get(key, 0) + 1
    out = []
    for (task, column, value), scores in sorted(values.items()):
        interval, method = intervals.unit_interval(scores)
        low, high = interval or (None, None)
        found = Slice(task, column, value, len(scores), sum(scores), low, high, 0, method)
        found.n_failed = failed.get((task, column, value), 0)
        out.append(found)
    return out


def record(found: list[Slice]) -> list[dict]:
    """slices.json's entries."""
    return [asdict(s) for s in found]


def markdown(found: list[Slice]) -> str:
    """One table per column: per task and value, items, accuracy and its 95% interval (x100)."""
    if not found:
        return ""
    lines = ["", "Slices (--slice-by): accuracy within each value of a per-item field", ""]
    for column in dict.fromkeys(s.column for s in found):
        rows = [
            [
                s.task,
                s.value,
                s.n,
                "n/a" if s.accuracy is None else f"{100 * s.accuracy:.2f}",
                "" if s.ci_low is None else f"[{100 * s.ci_low:.2f}, {100 * s.ci_high:.2f}]",
                s.n_failed,
            ]
            for s in found
            if s.column == column
        ]
        header = ["Task", column, "Questions", "acc", "95% interval", "Failed"]
        lines += markdown_lines(header, rows, "llrrrr")
        lines.append("")
    return "\n".join(lines)


class _Slices(Analysis):
    """``--slice-by``: accuracy per value of an item field (CMExam's annotations, a subject)."""

    name = "slices"
    order = 20

    def applies(self, context: Context) -> bool:
        return bool(context.config.slice_by)

    def run(self, context: Context) -> Finding:
        from medbench.analysis.compare import groups

        subjects = groups(context.folder, context.lm_eval_results)
        found = slices(context.records, context.config.slice_by, subjects)
        return Finding(files={"slices.json": record(found)}, markdown=markdown(found))


ANALYSIS = _Slices()
