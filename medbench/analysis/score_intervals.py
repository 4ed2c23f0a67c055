"""Each score's n and 95% interval, over its units, from the per-item values lm-eval logged for it.

The unit is the question (:mod:`medbench.core.units`): a ``--circular`` run's rotations of one question
are one unit whose value is their mean, so its accuracy rests on n = questions, and a question with a
failed rotation is left out (counted in ``n_failed``), as it is of the circular accuracy.

The method follows what the score is (:mod:`medbench.analysis.intervals`): a mean of 0/1 unit values is a
proportion (Wilson); a mean of other values in [0, 1] gets the Wilson bound; any other mean a
bootstrap over units; a corpus-level aggregate (BLEU, an entity F1, CMExam's official accuracy) the
task's own aggregation re-run on 2,000 resampled unit sets -- of the units it rests on, where the
aggregation says (``rests_on``: a CMB exam type's score, over that type's questions, which are its n).
A group's micro score is the mean over all its units (Wilson, or the Wilson bound), its macro score
Wilson at the macro mean's effective n. Failed items are left out, as they are of the score itself.
"""

from __future__ import annotations

from collections.abc import Callable

from lm_eval.api.metrics import mean

from medbench.analysis import intervals
from medbench.analysis.summary import Score, leaves
from medbench.core import units
from medbench.core.additive import Additive
from medbench.data.catalog import task_config

CORPUS_RESAMPLES = intervals.RESAMPLES

Aggregation = Callable[[list], float]


def aggregations(manager, task: str) -> dict[str, Aggregation]:
    """A task's metric -> aggregation function (a metric its YAML does not list is a mean)."""
    from lm_eval.api.registry import get_aggregation

    out: dict[str, Aggregation] = {}
    for entry in task_config(manager, task, resolve=True).get("metric_list") or []:
        agg = entry.get("aggregation", "mean")
        out[entry["metric"]] = get_aggregation(agg) if isinstance(agg, str) else agg
    return out


def _is_mean(agg: Aggregation | None) -> bool:
    return agg is None or agg is mean


def _units(samples: list[dict], metric: str, failed: set[int]) -> tuple[list[list], int]:
    """The metric's item values grouped by unit (whole units only) and how many units were left out
    because an item of theirs failed (``failed``: its doc ids) or is missing."""
    groups: dict[str, list[dict]] = {}
    for s in samples:
        groups.setdefault(units.doc_unit(s.get("doc") or {}, s["doc_id"]), []).append(s)
    whole, partial = [], 0
    for group in groups.values():
        values = [s[metric] for s in group if s["doc_id"] not in failed and s.get(metric) is not None]
        expected = units.expected(group[0].get("doc") or {})
        if len(values) == expected == len(group):
            whole.append(values)
        elif any(s["doc_id"] in failed for s in group) or len(group) < expected:
            partial += 1
    return whole, partial


def _unit_means(grouped: list[list]) -> list[float]:
    return [sum(float(v) for v in values) / len(values) for values in grouped]


def _flat(grouped: list[list]) -> list:
    return [v for values in grouped for v in values]


def _corpus(grouped: list[list], agg: Aggregation) -> tuple[tuple[float, float] | None, str]:
    """The task's aggregation re-run on resampled unit sets; an aggregation declared as sums of
    per-item statistics (:class:`~medbench.core.additive.Additive`) resamples the units' sums instead."""
    if isinstance(agg, Additive):
        rows = [agg.rows(values).sum(axis=0) for values in grouped]
        interval = intervals.bootstrap_sums(rows, agg.finish, resamples=CORPUS_RESAMPLES)
    else:
        interval = intervals.bootstrap(grouped, lambda drawn: agg(_flat(drawn)), resamples=CORPUS_RESAMPLES)
    label = f"{intervals.BOOTSTRAP}, {CORPUS_RESAMPLES} resamples"
    return interval, label if interval else intervals.DEGENERATE


def _set_units(score: Score, grouped: list[list], partial: int, value: float | None) -> None:
    """A score whose items are not their own units (rotations) rests on its whole units."""
    if any(len(values) > 1 for values in grouped) or partial:
        score.n, score.value = len(grouped), value
        score.n_failed = partial


def attach(scores: list[Score], results: dict, samples: dict[str, list[dict]], failed: set, manager) -> None:
    """Set each score's ``ci_low``/``ci_high``/``ci_method`` from the units it rests on (``failed``:
    the (task, doc_id) pairs left out), and its n in units. A score with no value, or whose items were
    not logged, keeps none."""
    groups = results.get("group_subtasks", {})
    failed_ids = {task: {doc for t, doc in failed if t == task} for task in samples}
    aggs: dict[str, dict[str, Aggregation]] = {}

    def agg_of(task: str, metric: str) -> Aggregation | None:
        if task not in aggs:
            aggs[task] = aggregations(manager, task) if task in manager.task_index else {}
        return aggs[task].get(metric)

    for score in scores:
        members = leaves(score.task, groups)
        if any(m not in samples for m in members):
            continue
        per_member = [_units(samples[m], score.metric, failed_ids[m]) for m in members]
        rotated = any(len(v) > 1 for grouped, _ in per_member for v in grouped)
        agg = agg_of(score.task, score.metric) if members == [score.task] else None
        if hasattr(agg, "rests_on"):  # a score over some of the task's units (one CMB exam type's)
            own = [s for s in samples[score.task] if agg.rests_on(s.get("doc") or {})]
            per_member = [_units(own, score.metric, failed_ids[score.task])]
            score.n, score.n_failed = len(per_member[0][0]), per_member[0][1]
        if score.value is None:
            continue
        if members == [score.task]:
            grouped, partial = per_member[0]
            if _is_mean(agg):
                means = _unit_means(grouped)
                _set_units(score, grouped, partial, sum(means) / len(means) if means else None)
                interval, method = intervals.unit_interval(means)
            else:
                if rotated:  # the aggregate over whole questions' rotations: n questions, as acc's
                    _set_units(score, grouped, partial, agg(_flat(grouped)) if grouped else None)
                interval, method = _corpus(grouped, agg)
        elif all(_is_mean(agg_of(m, score.metric)) for m in members):
            per_subject = [_unit_means(grouped) for grouped, _ in per_member]
            pooled = [v for subject in per_subject for v in subject]
            if score.convention.startswith("macro"):
                rates = [(sum(s) / len(s), len(s)) for s in per_subject if s]
                interval = intervals.macro(rates) if all(0 <= v <= 1 for v in pooled) else None
                method = intervals.WILSON_MACRO if interval else ""
                if rotated and len(rates) == len(members):
                    score.value = sum(r for r, _ in rates) / len(rates)
            else:
                interval, method = intervals.unit_interval(pooled)
                if rotated:
                    score.value = sum(pooled) / len(pooled) if pooled else None
            if rotated:
                score.n = len(pooled)
                score.n_failed = sum(partial for _, partial in per_member)
        else:
            continue
        if interval is not None and score.value is not None:
            low, high = interval
            if not low <= score.value <= high:  # a percentile bootstrap need not hold its estimate
                low, high = min(low, score.value), max(high, score.value)
                method += ", widened to hold the estimate"
            score.ci_low, score.ci_high = low, high
        if method:
            score.ci_method = method
