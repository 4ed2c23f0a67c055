"""A run's lm-eval tasks, built once and given the run's context.

lm-eval builds a task (and reads its data) each time it is handed the task's name; a run evaluates
several times (each repeat, the rescoring without failed items). :func:`build` builds every task of
the run once, before the model loads -- so its data is read once, checked, and its
:class:`~medbench.data.datareport.DataReport` kept -- and each pass gets the built objects.

Each pass is lm-eval's own ``evaluate`` over the built tasks, after :func:`prepare` and
:func:`seed_everything` -- the steps of ``simple_evaluate`` a run needs. ``simple_evaluate`` itself
is not called: besides rebuilding tasks by name, it runs a bare ``git describe`` whose ``fatal: not a
git repository`` reaches the console whenever medbench runs outside a checkout (medbench's own
versions and commit are in the run folder's ``versions.json``).

Building is also where the run's :class:`~medbench.core.hooks.HookContext` reaches the task hooks that
declare it (thinking tags, the LLM extractor): a ``process_results`` through lm-eval's ``set_config``,
a custom filter's ``filter_fn`` in the filter pipeline lm-eval built for this task object. Nothing
process-wide changes: another task object, or plain ``lm_eval``, keeps the hooks' defaults.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from medbench.core._compat import filter_pipelines
from medbench.core.hooks import DEFAULT_TAGS, Bound, HookContext, takes_context


@dataclass
class Built:
    """The run's lm-eval objects: ``top`` in the order asked (a Task or a Group each), ``leaves`` by
    name (every Task under them)."""

    top: dict[str, Any] = field(default_factory=dict)
    leaves: dict[str, Any] = field(default_factory=dict)
    #: per leaf, the hooks the context reached ("process_results", "filter"); "custom filter": a custom
    #: filter step whose function takes no context (a plug-in's own, which may call medbench's)
    reached: dict[str, set[str]] = field(default_factory=dict)

    def objects(self, names: list[str]) -> list[Any]:
        """The built objects of ``names`` (asked names or leaves), for lm-eval's ``TaskManager.load``."""
        return [self.top[n] if n in self.top else self.leaves[n] for n in names]


def build(manager, names: list[str], context: HookContext) -> Built:
    """Every task and group in ``names``, built by lm-eval's ``manager`` (reading their data once),
    their hooks given ``context``."""
    built = Built()
    for name in names:
        loaded = manager.load(name)
        built.top[name] = loaded["groups"].get(name) or loaded["tasks"][name]
        built.leaves.update(loaded["tasks"])
    for leaf, task in built.leaves.items():
        built.reached[leaf] = bind(task, context)
    return built


def bind(task, context: HookContext) -> set[str]:
    """``context`` to each hook of one built task that declares it; returns what it reached
    (:attr:`Built.reached`)."""
    reached = set()
    hook = getattr(task.config, "process_results", None)
    if takes_context(hook):
        task.set_config("process_results", Bound(hook, context))
        reached.add("process_results")
    for ensemble in filter_pipelines(task):  # the pipelines lm-eval built for this object
        for step in ensemble.filters:
            function = (getattr(step, "keywords", None) or {}).get("filter_fn")
            if function is not None:
                reached.add("filter" if takes_context(function) else "custom filter")
        ensemble.filters = [_bound_step(step, context) for step in ensemble.filters]
    return reached


def unreached(built: Built, context: HookContext, extractor: bool) -> list[str]:
    """One line per run setting that some generation task's hooks cannot be told (their hooks take no
    run context): ``--think-tags`` other than the default reach no hook of such a task (its thinking is
    read with ``<think>``/``</think>``, or not at all), ``--extractor llm`` no custom filter of its own."""
    generating = [leaf for leaf, task in built.leaves.items() if task.OUTPUT_TYPE == "generate_until"]
    lines = []
    if context.tags != DEFAULT_TAGS:
        blind = [leaf for leaf in generating if not built.reached[leaf] - {"custom filter"}]
        if blind:
            lines.append(
                f"--think-tags {','.join(context.tags)}: no hook of {_named(blind)} takes the run's "
                "context; its replies' thinking is read with the default tags <think>,</think> or not at all"
            )
    if extractor:
        blind = [leaf for leaf in generating if "custom filter" in built.reached[leaf]]
        if blind:
            lines.append(
                f"--extractor llm: the custom filter of {_named(blind)} takes no run context, so no "
                "reply of it goes to the extractor (only filters that declare a context do)"
            )
    return lines


def _named(leaves: list[str]) -> str:
    return ", ".join(leaves[:3]) + (f" and {len(leaves) - 3} more" if len(leaves) > 3 else "")


def _bound_step(step, context: HookContext):
    """A filter step (lm-eval: the filter class with its YAML keywords) whose ``filter_fn`` declares a
    context, given it; any other step as it is."""
    keywords = getattr(step, "keywords", None) or {}
    if isinstance(step, partial) and takes_context(keywords.get("filter_fn")):
        return partial(
            step.func, *step.args, **{**keywords, "filter_fn": Bound(keywords["filter_fn"], context)}
        )
    return step


def seed_everything(seeds: dict) -> None:
    """The seeds ``simple_evaluate`` sets before a pass (Python, NumPy, torch; the few-shot seed is
    each task's, :func:`prepare`)."""
    import random

    import numpy as np
    from lm_eval.utils import set_torch_seed

    random.seed(seeds["random_seed"])
    np.random.seed(seeds["numpy_random_seed"])
    set_torch_seed(seeds["torch_random_seed"])


def prepare(task_dict: dict, shots: int | None, gen_kwargs: dict | None, fewshot_seed: int) -> None:
    """Each task as ``simple_evaluate`` sets it before a pass: the run's decoding over every
    generation task's own, ``shots`` examples (a task whose YAML says 0 keeps 0; without ``shots``,
    a task that says nothing gets 0), the few-shot sampler seeded."""
    for task in task_dict["tasks"].values():
        if gen_kwargs is not None and task.get_config("output_type") == "generate_until":
            task.set_config("generation_kwargs", gen_kwargs, update=True)
        default = task.get_config("num_fewshot")
        if shots is not None and default != 0:
            task.set_config("num_fewshot", shots)
        elif shots is None and default is None:
            task.set_config("num_fewshot", 0)
        task.set_fewshot_seed(seed=fewshot_seed)


def provenance(
    results: dict, lm, seeds: dict, gen_kwargs: dict | None, selection: dict, started: float
) -> dict:
    """What ``simple_evaluate`` adds to lm-eval's results for a model object: ``config`` (the model,
    its settings and seeds), the date, lm-eval's environment and tokenizer records and the working
    folder's git commit -- read from the folder's files, as lm-eval does when ``git describe`` fails,
    so no ``git`` runs."""
    from lm_eval.loggers.utils import add_env_info, add_tokenizer_info, get_commit_from_path

    config = getattr(lm, "config", None)
    name = getattr(config, "_name_or_path", None) or type(lm).__name__
    record = {"model": name, "model_args": None}
    if hasattr(lm, "get_model_info"):
        record.update(lm.get_model_info())
    batch_sizes = getattr(lm, "batch_sizes", None)
    record.update(
        batch_size=None,
        batch_sizes=list(batch_sizes.values()) if isinstance(batch_sizes, dict) else [],
        device=None,
        use_cache=None,
        limit=selection.get("limit"),
        bootstrap_iters=100000,
        gen_kwargs=gen_kwargs,
        random_seed=seeds["random_seed"],
        numpy_seed=seeds["numpy_random_seed"],
        torch_seed=seeds["torch_random_seed"],
        fewshot_seed=seeds["fewshot_random_seed"],
    )
    out = {**results, "config": record, "git_hash": get_commit_from_path(os.getcwd()), "date": started}
    add_env_info(out)
    add_tokenizer_info(out, lm)
    return out
