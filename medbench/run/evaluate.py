"""The evaluation loop of one run: each repeat through lm-eval behind the request cache, written to the
run folder as soon as it finishes, and -- when requests failed -- rescored by lm-eval over the items
that succeeded, from the cache alone, so a failure never counts as a wrong answer."""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medbench.analysis.score_intervals import attach
from medbench.analysis.summary import annotate, summarise
from medbench.core.hooks import HookContext
from medbench.data.catalog import leaf_tasks, task_config
from medbench.data.datareport import DataReport
from medbench.models.requestcache import Calls, RequestCache
from medbench.run.rundir import RunFolder
from medbench.run.tasks import Built, prepare, provenance, seed_everything
from medbench.scoring.mc import LETTERS

if TYPE_CHECKING:
    from medbench.config.run import RunConfig

log = logging.getLogger("medbench")


def exclusions(
    manager,
    reports: dict[str, DataReport],
    failures: list[dict],
    selection: dict[str, list[int]] | None,
    limit,
) -> dict[str, dict[str, int]]:
    """Per task: items left out of its score, by why (malformed, duplicate, failed), counting only the
    rows among the items evaluated (``--limit``, or a shard's last item)."""
    out = {}
    for leaf, report in reports.items():
        split = task_config(manager, leaf).get("test_split")
        chosen = (selection or {}).get(leaf)
        counts = report.counts(split, max(chosen) + 1 if chosen else limit)
        counts["failed"] = sum(1 for f in failures if f["task"] == leaf)
        out[leaf] = counts
    return out


def chat_args(config: RunConfig) -> dict:
    """lm-eval's chat-templating arguments for this run (``--chat``; see :mod:`medbench.models.chat`)."""
    if not config.chat:
        return {}
    return {
        "apply_chat_template": True,
        "fewshot_as_multiturn": config.fewshot_as_multiturn,
        "system_instruction": config.system_prompt,
    }


@dataclass
class Evaluation:
    """What every lm-eval pass of one run shares -- each repeat's pass and the rescoring without its
    failed items: the model behind one request cache (:class:`~medbench.models.requestcache.RequestCache`,
    the one wrapper around it), the tasks (built once, given the run's hook context) and the decoding."""

    config: RunConfig
    lm: Any
    manager: Any
    built: Built
    context: HookContext
    cache: Path
    decoding: dict | None
    expand_chat: bool = False  # --chat on a model that renders it: encoded dialogues as their own turns
    calls: Calls = field(default_factory=Calls)

    def cached(self, seed: int, repeat: int, answer_only: bool = False) -> RequestCache:
        return RequestCache(
            self.lm, str(self.cache), seed, repeat, answer_only, self.calls, expand_chat=self.expand_chat
        )

    def lm_eval(self, model: RequestCache, tasks: list[str], seeds: dict, **selection):
        """One lm-eval pass over ``tasks`` as the run built them (``selection``: ``limit``, ``samples``,
        ``log_samples``): lm-eval's ``evaluate`` after the steps of its ``simple_evaluate`` a run needs
        (:func:`medbench.run.tasks.prepare`); None on a data-parallel worker (rank > 0)."""
        from lm_eval.evaluator import evaluate as lm_eval_evaluate

        started = time.time()
        seed_everything(seeds)
        loaded = self.manager.load(self.built.objects(tasks))
        prepare(loaded, self.config.shots, self.decoding, seeds["fewshot_random_seed"])
        chat = {"fewshot_as_multiturn": True, **chat_args(self.config)}  # simple_evaluate's default
        results = lm_eval_evaluate(lm=model, task_dict=loaded, **chat, **selection)
        if results is None or int(os.environ.get("LOCAL_RANK", "0")) != 0:
            return None
        return provenance(results, model, seeds, self.decoding, selection, started)


def evaluate(
    run: Evaluation,
    folder: RunFolder,
    reports: dict[str, DataReport],
    selection: dict[str, list[int]] | None = None,
):
    """Each repeat through lm-eval, its results written as soon as it finishes; returns the scores of
    each repeat and the number of failed requests of the last."""
    config, lm, manager = run.config, run.lm, run.manager

    per_repeat, failed = [], 0
    for repeat in range(config.repeats):
        seed = config.seed + repeat
        seeds = dict(
            random_seed=seed, numpy_random_seed=seed, torch_random_seed=seed, fewshot_random_seed=seed
        )
        done = len(getattr(lm, "failures", []))
        cached = run.cached(seed, repeat)
        try:
            results = run.lm_eval(
                cached,
                config.resolved_tasks,
                seeds,
                limit=None if selection else item_limit(config),
                samples=selection,  # a shard's items (else every item up to --limit)
                log_samples=True,
            )
        finally:
            cached.close()
        if results is None:  # a data-parallel worker: lm-eval gathers every result on rank 0
            continue
        failures = list(getattr(lm, "failures", []))[done:] + extractor_failures(
            results, run.context.extractor
        )
        if failures:
            results = _without_failed(run, results, failures, seeds, repeat)
        samples = results.get("samples") or {}  # write_results takes them out of the results
        folder.write_results(
            results,
            repeat if config.repeats > 1 else None,
            failures,
            run.context.tags,
            getattr(lm, "tok_encode", None),  # thinking and answer tokens, by the model's own tokenizer
        )
        scores = summarise(results)
        annotate(scores, results, exclusions(manager, reports, failures, selection, config.limit))
        attach(scores, results, samples, {(f["task"], f["doc_id"]) for f in failures}, manager)
        per_repeat.append(scores)
        failed = len(failures)
        if failures:
            causes = {f["error"] for f in failures}
            cause = f" -- every one alike: {next(iter(causes))}" if len(causes) == 1 else ""
            log.warning(
                "%d item(s) failed after retries%s: left out of the scores (n_failed), listed in "
                "failures.jsonl; the run is incomplete until the same command is re-run",
                len(failures),
                cause,
            )
    return per_repeat, failed


def item_limit(config: RunConfig) -> int | None:
    """lm-eval's --limit: with --circular the hooks keep the first N questions themselves, and each
    brings one item per order (at most 8 rotations, or 8! orders), so lm-eval's cut never falls
    inside a question."""
    if config.circular and config.limit:
        per_question = math.factorial(len(LETTERS)) if config.circular_orders == "all" else len(LETTERS)
        return config.limit * per_question
    return config.limit


def extractor_failures(results: dict, extractor) -> list[dict]:
    """Items whose reply went to the LLM extractor and got no answer (failed after retries): failed
    items like a failed model request -- left out of the score, counted, the run incomplete."""
    from medbench.scoring import llm_extract

    if extractor is None:
        return []
    errors = [f.get("error") for f in extractor.usage.failures] or ["no answer"]
    return [
        {"task": task, "doc_id": s["doc_id"], "error": f"LLM extractor: {errors[-1]}"}
        for task, items in results.get("samples", {}).items()
        for s in items
        if llm_extract.FAILED in (s.get("filtered_resps") or [])
    ]


def _without_failed(run: Evaluation, results: dict, failures: list[dict], seeds: dict, repeat: int) -> dict:
    """The run's results rescored by lm-eval over the items that succeeded, from the cache alone.

    A task whose every item failed cannot be scored: its metrics stay, valued None, with n = 0, and so
    do those of any group it belongs to (an average over the other tasks is another population).
    """
    manager = run.manager
    failed = {(f["task"], f["doc_id"]) for f in failures}
    samples = results["samples"]
    keep = {
        task: sorted(s["doc_id"] for s in items if (task, s["doc_id"]) not in failed)
        for task, items in samples.items()
    }
    dead = [task for task, ids in keep.items() if not ids]
    tasks = run.config.resolved_tasks
    if dead:  # lm-eval reads an empty selection as "all items": leave such tasks out by name
        tasks = [t for name in tasks for t in leaf_tasks(manager, name) if t not in dead]
    rescored = {"results": {}, "n-samples": {}, "group_subtasks": {}, "configs": {}}
    if tasks:
        answers = run.cached(seeds["random_seed"], repeat, answer_only=True)
        try:
            kept = {task: ids for task, ids in keep.items() if ids}
            rescored = run.lm_eval(answers, tasks, seeds, samples=kept, log_samples=False)
        finally:
            answers.close()
    unscored = [*dead]
    for group, members in results.get("group_subtasks", {}).items():
        if set(leaf_tasks(manager, group)) & set(dead):  # a group missing a task has no score either
            rescored["group_subtasks"][group] = members
            unscored.append(group)
    for task in unscored:
        rescored["results"][task] = {
            key: None for key, value in results["results"][task].items() if isinstance(value, (int, float))
        }
    for task in dead:
        rescored["n-samples"][task] = {"original": len(samples[task]), "effective": 0}
    rescored["samples"] = samples  # every item's output stays on record, failed ones with their error
    return rescored
