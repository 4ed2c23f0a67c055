"""Turning lm-eval's results dict into medbench's metrics: per task, and per group micro + macro.

lm-eval's group score with ``weight_by_size: true`` is the micro average (every item counts once).
The official CMMLU script and several papers report the macro average (every subject counts once).
medbench reports both and names them, so a number is never compared under the wrong convention.
"""

from __future__ import annotations

import statistics
import textwrap
from dataclasses import dataclass, field

from medbench.core.safe_cells import markdown_lines
from medbench.scoring.cmb_official import CONVENTIONS as CMB_OFFICIAL
from medbench.scoring.cmexam_accuracy import CONVENTIONS as CMEXAM_ACCURACY
from medbench.scoring.cmexam_accuracy import DENOMINATORS
from medbench.scoring.ner_conventions import METRIC_CONVENTIONS
from medbench.scoring.textmetrics import CONVENTIONS as TEXT_CONVENTIONS

CONVENTIONS = {**TEXT_CONVENTIONS, **METRIC_CONVENTIONS, **CMEXAM_ACCURACY, **CMB_OFFICIAL}

SKIP_KEYS = {"alias", "name", "sample_len", "samples"}


@dataclass
class Score:
    """One metric of one task or group; ``n`` is the number of items behind it, and the ``n_*`` counts
    the items of the evaluated split left out of it, by why. ``value`` is None when no item could be
    scored (every request failed)."""

    task: str
    metric: str
    value: float | None
    n: int
    stderr: float | None = None
    convention: str = ""
    values: list[float] = field(default_factory=list)  # one per repeat
    n_failed: int = 0
    n_malformed: int = 0
    n_duplicate: int = 0
    ci_low: float | None = None  # the 95% interval (medbench.analysis.intervals), as fractions like value
    ci_high: float | None = None
    ci_method: str = ""  # how it was computed: "wilson", "bootstrap (items)", ...

    @property
    def std(self) -> float | None:
        return statistics.stdev(self.values) if len(self.values) > 1 else None

    @property
    def excluded(self) -> str:
        """``"2 failed, 1 malformed"``, or ``"0"``: the items that are not in ``n``."""
        parts = [
            f"{count} {why}"
            for why, count in (
                ("failed", self.n_failed),
                ("malformed", self.n_malformed),
                ("duplicate", self.n_duplicate),
            )
            if count
        ]
        return ", ".join(parts) or "0"


def _metrics(entry: dict) -> dict[str, tuple[float, float | None]]:
    """``{"acc,none": .5, "acc_stderr,none": .1}`` -> ``{"acc": (.5, .1)}``."""
    out = {}
    for key, value in entry.items():
        name = key.split(",")[0]
        if name in SKIP_KEYS or name.endswith("_stderr"):
            continue
        if not isinstance(value, (int, float)) and not (value is None and "," in key):
            continue
        stderr = entry.get(key.replace(name, f"{name}_stderr", 1))
        out[name] = (
            None if value is None else float(value),
            float(stderr) if isinstance(stderr, (int, float)) else None,
        )
    return out


def leaves(name: str, group_subtasks: dict[str, list[str]]) -> list[str]:
    """The tasks a task or group name stands for (a group expands, recursively)."""
    subs = group_subtasks.get(name)
    if not subs:
        return [name]
    return [leaf for sub in subs for leaf in leaves(sub, group_subtasks)]


def summarise(results: dict) -> list[Score]:
    """Scores in display order: each group (micro, then macro), then its tasks, then lone tasks."""
    groups: dict[str, list[str]] = results.get("group_subtasks", {})
    n_samples = {t: v["effective"] for t, v in results.get("n-samples", {}).items()}
    res = results["results"]
    scores: list[Score] = []
    seen: set[str] = set()

    def task_scores(task: str) -> None:
        metrics = _metrics(res.get(task, {}))
        for metric, (value, stderr) in metrics.items():
            n = n_samples.get(task, 0)
            rate = metrics.get(DENOMINATORS.get(metric, ""), (None, None))[0]
            if rate is not None:  # a metric over the items that gave an answer rests on those only
                n = round(rate * n)
            scores.append(Score(task, metric, value, n, stderr, CONVENTIONS.get(metric, "")))
        seen.add(task)

    top_groups = [g for g in groups if groups[g] and not any(g in subs for subs in groups.values())]
    for group in top_groups:
        members = leaves(group, groups)
        total = sum(n_samples.get(t, 0) for t in members)
        leaf_metrics = [_metrics(res.get(t, {})) for t in members]
        group_metrics = _metrics(res.get(group, {}))
        for metric, (value, stderr) in group_metrics.items():
            scores.append(Score(group, metric, value, total, stderr, "micro (item-weighted)"))
        for metric in group_metrics:
            per_task = [m[metric][0] for m in leaf_metrics if metric in m]
            if len(per_task) == len(members):
                macro = None if None in per_task else sum(per_task) / len(per_task)
                scores.append(Score(group, metric, macro, total, None, f"macro ({len(members)} subjects)"))
        seen.add(group)
        for task in members:
            task_scores(task)
    for task in res:
        if task not in seen and not groups.get(task):
            task_scores(task)
    return scores


def annotate(scores: list[Score], results: dict, excluded: dict[str, dict[str, int]]) -> None:
    """Set each score's ``n_failed``/``n_malformed``/``n_duplicate`` (a group: its tasks' sum)."""
    groups: dict[str, list[str]] = results.get("group_subtasks", {})
    for score in scores:
        counts = [excluded.get(leaf, {}) for leaf in leaves(score.task, groups)]
        score.n_failed = sum(c.get("failed", 0) for c in counts)
        score.n_malformed = sum(c.get("malformed", 0) for c in counts)
        score.n_duplicate = sum(c.get("duplicate", 0) for c in counts)


def combine_repeats(per_repeat: list[list[Score]]) -> list[Score]:
    """Mean over repeats (same tasks and metrics each time), keeping each repeat's value; a metric
    that some repeat could not score is None, and the largest exclusion counts are kept. The mean of
    several repeats carries their spread (``values``, std), not one repeat's interval: repeat 0's
    interval beside the mean could leave the value outside it."""
    first = per_repeat[0]
    combined = []
    for i, score in enumerate(first):
        interval = (score.ci_low, score.ci_high, score.ci_method)
        values = [scores[i].value for scores in per_repeat]
        known = [v for v in values if v is not None]
        combined.append(
            Score(
                score.task,
                score.metric,
                statistics.fmean(known) if len(known) == len(values) else None,
                score.n,
                score.stderr,
                score.convention,
                known,
                max(scores[i].n_failed for scores in per_repeat),
                score.n_malformed,
                score.n_duplicate,
                *(interval if len(per_repeat) == 1 else (None, None, "")),
            )
        )
    return combined


def mean_over_repeats(per_repeat: list[list[Score]]) -> list[Score]:
    """:func:`combine_repeats` for scores an analysis derived from each repeat's records: matched by
    (task, metric, convention), since a repeat may lack a row another has (a score only some repeats
    could form is left out, never taken from one repeat as if it were the mean)."""
    if len(per_repeat) == 1:
        return per_repeat[0]
    keyed = [{(s.task, s.metric, s.convention): s for s in scores} for scores in per_repeat]
    common = [key for key in keyed[0] if all(key in k for k in keyed[1:])]
    return combine_repeats([[k[key] for key in common] for k in keyed])


ROW_CONVENTIONS = ("micro", "macro", "circular")  # a row of its own (its own n)


def _blocks(scores: list[Score]) -> list[tuple[list[str], list[list[Score]]]]:
    """Consecutive rows (task + row convention) that share a metric list form one table."""
    rows: list[list[Score]] = []
    for s in scores:
        key = (s.task, s.convention if s.convention.startswith(ROW_CONVENTIONS) else "")
        if (
            rows
            and (
                rows[-1][0].task,
                rows[-1][0].convention if rows[-1][0].convention.startswith(ROW_CONVENTIONS) else "",
            )
            == key
        ):
            rows[-1].append(s)
        else:
            rows.append([s])
    blocks: list[tuple[list[str], list[list[Score]]]] = []
    for row in rows:
        metrics = [s.metric for s in row]
        if blocks and blocks[-1][0] == metrics:
            blocks[-1][1].append(row)
        else:
            blocks.append((metrics, [row]))
    return blocks


def _spread(score: Score, repeats: int) -> str:
    """`` ± std`` over repeats, else `` [low, high]`` (the 95% interval), else nothing."""
    if repeats > 1:
        return "" if score.std is None else f" ± {100 * score.std:.2f}"
    if score.ci_low is None or score.ci_high is None:
        return ""
    return f" [{100 * score.ci_low:.2f}, {100 * score.ci_high:.2f}]"


def markdown_table(scores: list[Score]) -> str:
    """The results table(s) printed at the end of a run and saved as ``results.md`` (values x100).

    One row per task (groups: one row for micro, one for macro), one column per metric; each cell is
    ``value [low, high]`` with its 95% interval (or ``± std`` over repeats). Metric conventions follow
    the tables.
    """
    repeats = max((len(s.values) for s in scores), default=0)
    out = []
    notes: dict[str, str] = {}
    for metrics, rows in _blocks(scores):
        lines = []
        for row in rows:
            first = row[0]
            label = first.task
            if first.convention.startswith(ROW_CONVENTIONS):
                label += f", {first.convention}"
            cells = []
            for s in row:
                if s.value is None:
                    cells.append("n/a")
                    continue
                cells.append(f"{100 * s.value:.2f}" + _spread(s, repeats))
                if s.convention and not s.convention.startswith(ROW_CONVENTIONS):
                    notes[s.metric] = s.convention
            lines.append([label, first.n, first.excluded, *cells])
        for part in _column_parts(metrics, lines):
            header = ["Task", "Items", "Excluded", *(metrics[i] for i in part)]
            rows_part = [[*line[:3], *(line[3 + i] for i in part)] for line in lines]
            out += markdown_lines(header, rows_part, "lrl" + "r" * len(part))
            out.append("")
    spread = (
        f"± is the std over {repeats} repeats"
        if repeats > 1
        else "[low, high] is the 95% interval over questions (Wilson for a proportion, the Wilson bound "
        "for another mean in [0, 1], Wilson at the effective n for a macro score, a bootstrap over "
        "questions otherwise; metrics.json names each one's ci_method)"
    )
    out.append(
        textwrap.fill(
            f"Values x100; {spread}. Items: the items each score rests on; Excluded: items of the "
            "evaluated split left out of it (failed requests, malformed or duplicate rows; details in "
            "data.json and failures.jsonl).",
            WIDTH,
        )
    )
    out += [
        textwrap.fill(f"- {metric}: {text}", WIDTH, subsequent_indent="  ") for metric, text in notes.items()
    ]
    return "\n".join(out) + "\n"


#: the widest line results.md holds: a terminal reads it without wrapping (a table wider than this is
#: cut into tables of fewer metric columns, each repeating the task, its items and exclusions)
WIDTH = 160


def _column_parts(metrics: list[str], lines: list[list]) -> list[list[int]]:
    """The metric columns (indices) of each table a block is cut into, in order, so that no table line
    is wider than :data:`WIDTH` (one column always fits alone)."""

    def width(column: list) -> int:
        return max(len(str(v)) for v in column) + 3  # "| " before, " " after

    fixed = sum(width([h, *(line[i] for line in lines)]) for i, h in enumerate(("Task", "Items", "Excluded")))
    parts: list[list[int]] = [[]]
    used = fixed + 1
    for i, metric in enumerate(metrics):
        w = width([metric, *(line[3 + i] for line in lines)])
        if parts[-1] and used + w > WIDTH:
            parts.append([])
            used = fixed + 1
        parts[-1].append(i)
        used += w
    return parts
