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

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from medbench.core._compat import filter_pipelines
from medbench.core.hooks import Bound, HookContext, takes_context


@dataclass
class Built:
    """The run's lm-eval objects: ``top`` in the order asked (a Task or a Group each), ``leaves`` by
    name (every Task under them)."""

    top: dict[str, Any] = field(default_factory=dict)
    leaves: dict[str, Any] = field(default_factory=dict)

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
    for task in built.leaves.values():
        bind(task, context)
    return built


def bind(task, context: HookContext) -> None:
    """``context`` to each hook of one built task that declares it."""
    hook = getattr(task.config, "process_results", None)
    if takes_context(hook):
        task.set_config("process_results", Bound(hook, context))
    for ensemble in filter_pipelines(task):  # the pipelines lm-eval built for this object
        ensemble.filters = [_bound_step(step, context) for step in ensemble.filters]


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


def pass_record(lm, seeds: dict, gen_kwargs: dict | None, selection: dict) -> dict:
    """results.json's ``config``, as ``simple_evaluate`` writes it for a model object."""
    record = {"model": type(lm).__name__, "model_args": None}
    if hasattr(lm, "get_model_info"):
        record.update(lm.get_model_info())
    return {
        **record,
        "limit": selection.get("limit"),
        "gen_kwargs": gen_kwargs,
        "random_seed": seeds["random_seed"],
        "numpy_seed": seeds["numpy_random_seed"],
        "torch_seed": seeds["torch_random_seed"],
        "fewshot_seed": seeds["fewshot_random_seed"],
    }
