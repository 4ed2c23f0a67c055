"""``medbench compare RUN_A RUN_B``: is B really better than A, task by task, on the items both scored.

Two run folders are compared through their per-sample files (``samples/<task>.jsonl``), read and checked
by their run record (:mod:`medbench.config.record`) like any received file, and only if they read the
same data (``data.json``: a file of one name with two hashes is one line). The unit compared is the
question (:mod:`medbench.core.units`): an item is matched by its unit, must have the same gold answer in
both, and only units scored whole in both (no failed request) count. Two ``--circular`` runs are
compared question by question, never rotation by rotation: on ``acc``, each question's share of right
rotations (the leaderboard's acc), or with ``--metric circular_acc`` on right-under-every-rotation. For
0/1 scores the test is the exact McNemar test -- a two-sided binomial test on the discordant questions
(right in one run, wrong in the other) -- and the difference gets Newcombe's paired score interval; a
continuous per-question score gets the exact sign test (the same binomial on the questions that moved up
or down: valid at any n, where a bootstrap p-value is not) and, in [0, 1], Newcombe's square-and-add
over the Wilson bounds. p-values are Holm-adjusted across the tasks compared, and the items that flipped
are listed with both replies. Nothing is recomputed that the folders hold: each item's score is the one
the run recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from medbench.analysis import intervals
from medbench.config.record import RunRecord
from medbench.core import units
from medbench.core.errors import MedbenchError
from medbench.core.safe_cells import markdown_lines

ALPHA = 0.05


@dataclass
class Item:
    """One scored item of one run: its id, gold answer, score (1/0 for accuracy) and reply."""

    id: str
    gold: object
    score: float
    reply: object
    rotations: int = 1  # >1: a --circular question, scored right only if right under every rotation


@dataclass
class TaskComparison:
    task: str
    metric: str
    n: int  # items scored in both runs
    a: float
    b: float
    low: float | None  # the paired 95% interval of b - a
    high: float | None
    test: str
    p: float
    only_one: int = 0  # items scored in one run only (left out)
    fixed: list[tuple[Item, Item]] = field(default_factory=list)  # wrong in A, right in B
    broke: list[tuple[Item, Item]] = field(default_factory=list)  # right in A, wrong in B
    p_holm: float | None = None

    @property
    def difference(self) -> float:
        return self.b - self.a

    @property
    def significant(self) -> bool:
        return (self.p_holm if self.p_holm is not None else self.p) < ALPHA


def mcnemar_exact(broke: int, fixed: int) -> float:
    """Two-sided exact McNemar p-value: the discordant items split as a fair coin would split them."""
    if broke + fixed == 0:
        return 1.0
    return float(stats.binomtest(broke, broke + fixed, 0.5).pvalue)


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment (monotone, capped at 1), in the input order."""
    order = sorted(range(len(pvalues)), key=pvalues.__getitem__)
    adjusted = [0.0] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def _value(record: dict, metric: str) -> float | None:
    value = record.get("metrics", {}).get(metric)  # none recorded: not scored by it
    if "error" in record or not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return float(value)


CIRCULAR = "circular_acc"  # right under every rotation: from each rotation's acc


def _unit_item(key: str, group: list[dict], metric: str) -> Item | None:
    """One unit as one item: a plain item's score, or a question's over its rotations (their mean;
    for ``circular_acc`` the least: right only if right under every rotation); None when any part is
    missing or failed."""
    values = [_value(r, "acc" if metric == CIRCULAR else metric) for r in group]
    if not units.complete(group) or None in values:
        return None
    if len(group) == 1:
        record = group[0]
        return Item(key, record.get("gold"), values[0], record.get("extracted", record.get("raw")))
    ordered = sorted(group, key=lambda r: r.get("rotation", 0))
    score = min(values) if metric == CIRCULAR else float(np.mean(values))
    replies = [r.get("extracted", r.get("raw")) for r in ordered]
    return Item(key, ordered[0].get("gold"), score, replies, len(group))


def read_items(run: RunRecord, task: str, metric: str) -> dict[str, Item]:
    """A task's scored units by unit id, from the run's per-sample records (checked by the record: a
    line that is not one is one line naming the file and line). Units with a failed request (an
    ``error``), a missing rotation or no value of the metric are left out."""
    records, seen = run.samples(task), set()
    for record in records:
        key = str(record["id"])
        if key in seen:
            raise MedbenchError(f"{run.sample_file(task)}: item id {key[:80]!r} appears twice")
        seen.add(key)
    out: dict[str, Item] = {}
    for key, group in units.by_unit(records).items():
        item = _unit_item(key, group, metric)
        if item is not None:
            out[key] = item
    return out


def _paired_interval(pairs: list[tuple[float, float]], binary: bool) -> tuple[float | None, float | None]:
    """B - A's 95% interval: Newcombe's paired score interval for 0/1 scores, its square-and-add over
    Wilson bounds for other scores in [0, 1], else a paired bootstrap (none when every resample
    gives one value)."""
    if binary:
        cells = [sum(1 for a, b in pairs if (a, b) == cell) for cell in ((1, 1), (1, 0), (0, 1), (0, 0))]
        interval = intervals.paired_difference(*cells)
    elif all(0.0 <= x <= 1.0 for pair in pairs for x in pair):
        interval = intervals.paired_mean_difference([a for a, _ in pairs], [b for _, b in pairs])
    else:
        interval = intervals.bootstrap(pairs, lambda xs: float(np.mean([b - a for a, b in xs])))
    return interval if interval else (None, None)


def sign_test(pairs: list[tuple[float, float]]) -> float:
    """Two-sided exact sign test: the questions that moved down and up split as a fair coin would."""
    return mcnemar_exact(sum(a > b for a, b in pairs), sum(a < b for a, b in pairs))


def compare_task(a: dict[str, Item], b: dict[str, Item], task: str, metric: str) -> TaskComparison:
    """One task's paired comparison over the items both runs scored."""
    shared = [key for key in a if key in b]
    for key in shared:
        if a[key].gold != b[key].gold:
            raise MedbenchError(
                f"compare: {task} item {key[:80]!r} has gold {a[key].gold!r} in one run and "
                f"{b[key].gold!r} in the other: not the same items"
            )
        if (a[key].rotations > 1) != (b[key].rotations > 1):
            raise MedbenchError(
                f"compare: {task}: one run is --circular and the other is not (item {key[:80]!r}); "
                "compare runs of one kind"
            )
    pairs = [(a[k].score, b[k].score) for k in shared]
    only_one = len(set(a) ^ set(b))
    if not pairs:
        raise MedbenchError(f"compare: {task}: no item was scored in both runs")
    binary = all(x in (0.0, 1.0) for pair in pairs for x in pair)
    fixed = [(a[k], b[k]) for k in shared if binary and a[k].score < b[k].score]
    broke = [(a[k], b[k]) for k in shared if binary and a[k].score > b[k].score]
    low, high = _paired_interval(pairs, binary)
    test, p = (
        ("exact McNemar", mcnemar_exact(len(broke), len(fixed)))
        if binary
        else ("exact sign test", sign_test(pairs))
    )
    mean_a = float(np.mean([x for x, _ in pairs]))
    mean_b = float(np.mean([y for _, y in pairs]))
    return TaskComparison(
        task, metric, len(pairs), mean_a, mean_b, low, high, test, p, only_one, fixed, broke
    )


def groups(run: Path, name: str = "results.json") -> dict[str, str]:
    """leaf task -> its top group, from the run's results.json (``name``: a repeat's) -- checked: a
    file that does not give ``group_subtasks`` as name -> names is one line."""
    path = run / name
    subtasks = RunRecord.open(run).lm_eval_results(name).get("group_subtasks", {})
    names = lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v)  # noqa: E731
    if not isinstance(subtasks, dict) or not all(isinstance(k, str) and names(subtasks[k]) for k in subtasks):
        raise MedbenchError(f"{path}: group_subtasks must map each group to a list of task names")
    inner = {sub for subs in subtasks.values() for sub in subs}
    out: dict[str, str] = {}
    for top in (g for g in subtasks if g not in inner):
        todo, seen = [top], set()
        while todo:  # a hostile file's cycle ends here: each name is expanded once
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            for sub in subtasks.get(name, []):
                todo.append(sub) if sub in subtasks else out.setdefault(sub, top)
    return out


def _pooled(run: RunRecord, leaves: list[str], metric: str) -> dict[str, Item]:
    """The scored items of several tasks' files as one population (ids prefixed by their task)."""
    out: dict[str, Item] = {}
    for leaf in leaves:
        items = read_items(run, leaf, metric)
        for key, item in items.items():
            item.id = f"{leaf}/{key}" if len(leaves) > 1 else key
            out[item.id] = item
    return out


def pooled(
    run_a: Path, run_b: Path, leaves: list[str], unit: str, metric: str = "acc"
) -> TaskComparison | None:
    """One comparison over several tasks' items pooled (``unit`` names it); None when neither run
    has a scored item."""
    same_data(run_a, run_b)
    a, b = (_pooled(RunRecord.open(run), leaves, metric) for run in (run_a, run_b))
    return compare_task(a, b, unit, metric) if a or b else None


def _hashes(run: Path) -> dict[str, str]:
    """A run's data files by file name -> sha256 (data.json; none recorded: no check)."""
    record = RunRecord.open(run)
    return record.files_sha256() if record.has("data.json") else {}


def same_data(run_a: Path, run_b: Path) -> None:
    """Both runs read the same data: a file both name (by its last two path parts, so one data set
    in two folders matches) with two hashes is one line."""
    tail = lambda name: "/".join(Path(name).parts[-2:])  # noqa: E731
    a = {tail(k): v for k, v in _hashes(run_a).items()}
    b = {tail(k): v for k, v in _hashes(run_b).items()}
    for name in sorted(set(a) & set(b)):
        if a[name] != b[name]:
            raise MedbenchError(
                f"compare: {run_a} and {run_b} read different data ({name}: sha256 {a[name][:12]} vs "
                f"{b[name][:12]}): their items are not the same questions"
            )


def compare(
    run_a: Path, run_b: Path, tasks: list[str] | None = None, metric: str = "acc", by_group: bool = False
) -> list[TaskComparison]:
    """Every task both runs have per-sample files for (or ``tasks``), Holm-adjusted together;
    ``by_group``: a group's tasks pooled into one comparison (run A's groups)."""
    for run in (run_a, run_b):
        if not (run / "samples").is_dir():
            raise MedbenchError(f"compare: {run} is not a run folder with per-sample outputs (samples/)")
    common = sorted(set(RunRecord.open(run_a).tasks()) & set(RunRecord.open(run_b).tasks()))
    chosen = tasks or common
    missing = [t for t in chosen if t not in common]
    if missing:
        raise MedbenchError(
            f"compare: no per-sample file for {', '.join(missing)} in both runs; both have: "
            f"{', '.join(common) or 'none'}"
        )
    top = groups(run_a) if by_group else {}
    units: dict[str, list[str]] = {}
    for task in chosen:
        units.setdefault(top.get(task, task), []).append(task)
    out = [result for unit, leaves in units.items() if (result := pooled(run_a, run_b, leaves, unit, metric))]
    if not out:
        raise MedbenchError(f"compare: no task has per-item {metric!r} scores in both runs")
    for result, adjusted in zip(out, holm([r.p for r in out]), strict=True):
        result.p_holm = adjusted
    return out


def _short(reply: object) -> str:
    text = reply if isinstance(reply, str) else json.dumps(reply, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def fixed_broke_line(result: TaskComparison) -> str:
    """``cmexam: fixed 3, broke 1 (exact McNemar p = 0.625)``."""
    fixed, broke = len(result.fixed), len(result.broke)
    return f"{result.task}: fixed {fixed}, broke {broke} ({result.test} p = {result.p:.3g})"


def markdown(results: list[TaskComparison], name_a: str, name_b: str, shown: int = 20) -> str:
    """The comparison table, then each task's flipped items with both replies."""
    rows = [
        [
            r.task,
            r.n,
            f"{100 * r.a:.2f}",
            f"{100 * r.b:.2f}",
            f"{100 * r.difference:+.2f}"
            + ("" if r.low is None else f" [{100 * r.low:+.2f}, {100 * r.high:+.2f}]"),
            len(r.fixed),
            len(r.broke),
            f"{r.test}: {r.p:.3g}",
            f"{r.p_holm:.3g}" + ("" if r.significant else " (n.s.)"),
        ]
        for r in results
    ]
    out = [f"B = {name_b} against A = {name_a}, on the items both scored (metric: {results[0].metric})", ""]
    header = ["Task", "Items", "A", "B", "B - A [95% CI]", "Fixed", "Broke", "p", "Holm p"]
    out += markdown_lines(header, rows, "lrrrrrrrr")
    out += [
        "",
        "Values x100. Fixed: wrong in A, right in B; Broke: right in A, wrong in B. Holm p adjusts for the "
        f"{len(results)} task(s) compared; n.s. = not significant at {ALPHA}.",
    ]
    left_out = {r.task: r.only_one for r in results if r.only_one}
    if left_out:
        out.append(
            "Items scored in one run only (left out): " + ", ".join(f"{t} {n}" for t, n in left_out.items())
        )
    for r in results:
        for label, pairs in (("fixed", r.fixed), ("broke", r.broke)):
            if not pairs:
                continue
            out += ["", f"### {r.task}: {label} ({len(pairs)})", ""]
            lines = [[x.id, _short(x.gold), _short(x.reply), _short(y.reply)] for x, y in pairs[:shown]]
            out += markdown_lines(["Item", "Gold", "A replied", "B replied"], lines, "llll")
            if len(pairs) > shown:
                out.append(f"... and {len(pairs) - shown} more")
    return "\n".join(out) + "\n"
