"""Each score's 95% interval, from the per-item values lm-eval logged for it (:mod:`medbench.intervals`).

The method follows what the score is: a mean of 0/1 item values (accuracy, a rate) is a proportion
(Wilson); another mean of item values is bootstrapped over items; a corpus-level aggregate (BLEU, an
entity F1, CMExam's official accuracy) is bootstrapped by re-running the task's own aggregation on
resampled items (100 resamples, as lm-eval does for its corpus metrics: each is a full recompute);
a group's micro and macro scores get the two-stage bootstrap over subjects, then items. Failed items
are left out, as they are of the score itself.
"""

from __future__ import annotations

from collections.abc import Callable

from lm_eval.api.metrics import mean

from medbench import intervals
from medbench.catalog import task_config
from medbench.summary import Score, leaves

CORPUS_RESAMPLES = 100

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


def _item_values(samples: list[dict], metric: str) -> list:
    return [s[metric] for s in samples if metric in s and s[metric] is not None]


def _leaf_interval(values: list, agg: Aggregation | None) -> tuple[tuple[float, float] | None, str]:
    if _is_mean(agg):
        if all(isinstance(v, int | float) and v in (0, 1) for v in values):
            return intervals.proportion(int(sum(values)), len(values)), intervals.WILSON
        return intervals.bootstrap_mean([float(v) for v in values]), intervals.BOOTSTRAP
    label = f"{intervals.BOOTSTRAP}, {CORPUS_RESAMPLES} resamples"
    return intervals.bootstrap(values, agg, resamples=CORPUS_RESAMPLES), label


def attach(scores: list[Score], results: dict, samples: dict[str, list[dict]], failed: set, manager) -> None:
    """Set each score's ``ci_low``/``ci_high``/``ci_method`` from the items it rests on (``failed``:
    the (task, doc_id) pairs left out). A score with no value, or whose items were not logged, keeps
    none."""
    groups = results.get("group_subtasks", {})
    kept = {task: [s for s in items if (task, s["doc_id"]) not in failed] for task, items in samples.items()}
    aggs: dict[str, dict[str, Aggregation]] = {}

    def agg_of(task: str, metric: str) -> Aggregation | None:
        if task not in aggs:
            aggs[task] = aggregations(manager, task) if task in manager.task_index else {}
        return aggs[task].get(metric)

    for score in scores:
        members = leaves(score.task, groups)
        if score.value is None or any(m not in kept for m in members):
            continue
        if members == [score.task]:
            interval, method = _leaf_interval(
                _item_values(kept[score.task], score.metric), agg_of(score.task, score.metric)
            )
        elif all(_is_mean(agg_of(m, score.metric)) for m in members):
            clusters = [[float(v) for v in _item_values(kept[m], score.metric)] for m in members]
            statistic = intervals.macro_mean if score.convention.startswith("macro") else intervals.micro_mean
            interval, method = intervals.clustered(clusters, statistic), intervals.CLUSTERED
        else:
            continue
        if interval is not None:
            score.ci_low, score.ci_high, score.ci_method = *interval, method
