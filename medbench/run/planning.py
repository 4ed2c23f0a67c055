"""Planning a run: everything ``medbench run`` resolves before any model answers, once.

:func:`plan` checks the settings, resolves the backend (its options recorded as resolved), names the
tasks (``--mode``, ``--include-path``), reads and checks every task's data (once: what lm-eval later
reads), picks the items (``--limit``, ``--shard``) and identifies the model, and returns a
:class:`RunPlan` that :mod:`medbench.run.runner` executes and records. Nothing here loads a model.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from medbench.analysis import plugin as analyses
from medbench.analysis import slices
from medbench.backends import backend_config, registry
from medbench.backends.base import BackendConfig
from medbench.config.run import RunConfig
from medbench.core.errors import MedbenchError
from medbench.core.hooks import HookContext
from medbench.core.paths import plugin_dir
from medbench.data.catalog import leaf_tasks, load_task_data, task_config
from medbench.data.datareport import DataReport
from medbench.data.datasources import resolve_data_dir
from medbench.models import thinking
from medbench.run.checks import check_config, check_no_task_twice, check_task_data
from medbench.run.shards import shard_items
from medbench.run.tasks import Built, build, unreached
from medbench.scoring import llm_extract, rotations

log = logging.getLogger("medbench")


def decoding_presets() -> dict[str, dict]:
    """Named decoding settings (data in ``tasks/_decoding_presets_yaml``)."""
    return yaml.safe_load((plugin_dir("tasks") / "_decoding_presets_yaml").read_text(encoding="utf-8"))


def gen_kwargs(config: RunConfig) -> dict | None:
    """lm-eval ``gen_kwargs`` overriding every generation task, or None to keep the tasks' own."""
    kwargs: dict = {}
    if config.preset:
        presets = decoding_presets()
        if config.preset not in presets:
            raise MedbenchError(
                f"unknown decoding preset '{config.preset}' (available: {', '.join(presets)})"
            )
        kwargs.update({k: v for k, v in presets[config.preset].items() if k != "description"})
    if config.temperature is not None:
        kwargs.update(temperature=config.temperature, do_sample=config.temperature > 0)
    if config.top_p is not None:
        kwargs.update(top_p=config.top_p, do_sample=True)
    if config.thinking == "on":  # room to think: no stop string inside the thinking, a larger budget
        kwargs.update(until=[], max_gen_toks=thinking.BUDGET)
    if config.max_new_tokens is not None:
        kwargs["max_gen_toks"] = config.max_new_tokens
    if kwargs.get("do_sample") and not kwargs.get("temperature"):
        kwargs["temperature"] = 1.0  # sampling at transformers' default temperature (lm-eval would send 0)
    return kwargs or None


def run_metadata(config: RunConfig, model_path: str | None = None) -> dict:
    """Run-wide task metadata: lm-eval hands it to every task's data hook."""
    metadata: dict = {"prompt_style": config.prompt_style}
    if config.data_dir:
        metadata["data_dir"] = str(Path(config.data_dir).expanduser().resolve())
    if config.chat:
        metadata["chat"] = True
    if config.chat and model_path:
        metadata["chat_model"] = model_path  # checked for a chat template before the model loads
    return metadata


def task_manager(metadata: dict | None = None, include_path: str | None = None):
    """lm-eval's TaskManager over medbench's plug-ins (and the user's ``--include-path`` folder: a
    task or group name both define is one line, never a silent pick), with the run-wide task metadata."""
    from lm_eval.tasks import TaskManager

    ours = str(plugin_dir("tasks"))
    if not include_path:
        return TaskManager(include_path=ours, include_defaults=False, metadata=metadata or {})
    folder = Path(include_path).expanduser()
    if not folder.is_dir():
        raise MedbenchError(f"--include-path {include_path}: not a folder (it should hold task YAMLs)")
    theirs = TaskManager(include_path=str(folder), include_defaults=False).all_tasks
    shadowed = sorted(set(theirs) & set(task_manager().all_tasks))
    if shadowed:
        raise MedbenchError(
            f"--include-path {include_path}: task name(s) {', '.join(shadowed[:5])} are medbench's own; "
            "rename them (e.g. a prefix)"
        )
    return TaskManager(include_path=[ours, str(folder)], include_defaults=False, metadata=metadata or {})


def resolve_tasks(names: list[str], known: list[str], mode: str | None) -> list[str]:
    """Apply ``--mode`` (``X`` -> ``X_gen``/``X_loglik`` where that variant exists); reject unknown names."""
    resolved = []
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else "; `medbench tasks` lists them"
            raise MedbenchError(f"unknown task '{name}'{hint}")
        if mode:
            base = name.removesuffix("_gen").removesuffix("_loglik")
            name = f"{base}_{mode}" if f"{base}_{mode}" in known else base
        resolved.append(name)
    return resolved


def generation_only(config: RunConfig, manager) -> None:
    """A backend that cannot score log-likelihoods (a chat API): switch to gen mode with a notice, or
    fail in one line (``--mode loglik``: :func:`loglik_refused`, before the server is asked anything)."""
    switched = resolve_tasks(config.resolved_tasks, manager.all_tasks, "gen")
    if switched != config.resolved_tasks:
        log.warning("%s backend: scoring by generation: %s", config.backend, ", ".join(switched))
    config.resolved_tasks = switched
    for name in switched:
        for leaf in leaf_tasks(manager, name):
            if task_config(manager, leaf).get("output_type") != "generate_until":
                raise MedbenchError(
                    f"task {leaf} has no generation mode, and the {config.backend} backend can only generate"
                )


def loglik_refused(config: RunConfig, backend) -> None:
    """``--mode loglik`` on a backend that only generates: one line, before any server is asked."""
    if config.mode == "loglik" and not backend.capabilities.loglik:
        able = ", ".join(name for name, cls in registry().items() if cls.capabilities.loglik)
        raise MedbenchError(
            f"the {config.backend} backend only generates; --mode loglik needs a backend that scores "
            f"log-likelihoods ({able})"
        )


@dataclass
class RunPlan:
    """A run resolved before any model answers (:func:`plan`)."""

    config: RunConfig  # with resolved_tasks and the resolved backend options
    backend: BackendConfig
    manager: Any  # lm-eval's TaskManager with the run-wide task metadata
    decoding: dict | None  # gen_kwargs overriding every generation task (None: the tasks' own)
    reports: dict[str, DataReport]  # per leaf task: what its data hook skipped, and why
    selection: dict[str, list[int]] | None  # a shard's item ids per task (None: up to --limit)
    model_path: str  # what to load or ask
    model_fp: dict  # the model's fingerprint (model.json)
    #: what the task hooks are told: the thinking tags and the LLM extractor (--extractor llm), or the
    #: replayed runs' readings, or None
    context: HookContext
    built: Built  # the run's lm-eval tasks, built (their data read) once
    #: what the plan found that the scores cannot show (results.md's warnings, beside the console's)
    warnings: list[str] = field(default_factory=list)


def plan(config: RunConfig, replay=None) -> RunPlan:
    """Resolve ``config`` (mutated: resolved tasks and backend options, --chat for a chat API); every
    bad setting, unknown task or bad data file fails here in one line, before a model loads.
    ``replay`` (:class:`medbench.run.runner.Replay`): answers recorded elsewhere stand in for the model."""
    check_config(config)
    analyses.registered()  # a broken analysis plug-in fails here, not after the evaluation
    tags = thinking.parse_tags(config.think_tags)  # bad flags fail before anything loads
    extractor = llm_extract.from_config(config) if replay is None else replay.readings
    backend = backend_config(config.backend, config.backend_options)
    backend.resolve()
    config.backend_options = asdict(backend)
    loglik_refused(config, backend)
    if backend.capabilities.chat_api and not config.chat:
        config.chat = True  # a chat API: every prompt as messages (few-shot examples as turns)
        log.warning("%s backend: prompts go as chat messages (--chat)", config.backend)
    resolve_data_dir(config.data_dir)  # a wrong --data-dir fails before the model loads
    audit = None
    if config.exclude_contaminated:  # a missing or malformed audit, too
        from medbench.audit.clean import read_audit

        audit = read_audit(config.exclude_contaminated)
    decoding = gen_kwargs(config)
    plain = task_manager(include_path=config.include_path)
    config.resolved_tasks = resolve_tasks(config.tasks, plain.all_tasks, config.mode)
    # the model is resolved (an alias converted, a server asked) after the data is checked, unless the
    # data check needs it: a local model's chat template, read by the data hooks with --chat
    early = replay is not None or (config.chat and backend.capabilities.local)
    identified = _identity(backend, config, replay) if early else None
    if not early:
        backend.check_model(config.model)  # only the cheap part: a wrong path is one line at once
    metadata = run_metadata(config, identified[0] if identified and backend.capabilities.local else None)
    if config.circular:
        if config.shard:
            raise MedbenchError(
                "--circular with --shard: a question's rotations must stay in one shard; "
                "run --circular unsharded (or with a vLLM server's data parallelism)"
            )
        every = config.circular_orders == rotations.ALL_ORDERS
        metadata.update(rotations.metadata(config.resolved_tasks, plain, config.limit, every))
    elif config.circular_orders != "cyclic":
        raise MedbenchError("--circular-orders chooses the orders --circular asks: add --circular")
    manager = task_manager(metadata, config.include_path)
    if not backend.capabilities.loglik:
        generation_only(config, manager)
    thinking.check_run(config, manager)
    check_no_task_twice(manager, config.resolved_tasks)
    context = HookContext(tags, extractor)
    try:
        built = build(manager, config.resolved_tasks, context)
    except MedbenchError:
        raise
    except Exception:  # lm-eval could not build a task: data it cannot use (an empty split) is one line
        _check_unbuilt(config, manager, metadata)
        raise
    warnings = unreached(built, context, config.extractor == "llm")
    for line in warnings:
        log.warning(line)
    reports, sizes = _read_data(config, manager, built)
    if audit is not None:
        from medbench.audit.clean import check_same_data

        check_same_data(audit, {task: report.files for task, report in reports.items()})
    selection = shard_items(config.shard, sizes, config.limit)
    model_path, model_fp = identified or _identity(backend, config, replay)
    return RunPlan(
        config, backend, manager, decoding, reports, selection, model_path, model_fp, context, built, warnings
    )


def _read_data(config: RunConfig, manager, built: Built) -> tuple[dict[str, DataReport], dict[str, int]]:
    """Every leaf task's data, as its build read it, checked (bad or missing data fails here, before
    the model loads): what each hook skipped, and how many items each evaluated split holds; every
    ``--slice-by`` column is one the items give."""
    reports: dict[str, DataReport] = {}
    sizes: dict[str, int] = {}
    columns: dict[str, set[str]] = {}
    for name in config.resolved_tasks:
        for leaf in leaf_tasks(manager, name):
            data = getattr(built.leaves[leaf], "dataset", None)
            reports[leaf] = getattr(data, "report", None) or DataReport()
            cfg = task_config(manager, leaf)
            if cfg.get("custom_dataset") is not None:  # a plain lm-eval task's data is lm-eval's to check
                check_task_data(leaf, data, cfg, config.shots)
            split = cfg.get("test_split") or cfg.get("validation_split")
            sizes[leaf] = len(data[split]) if data is not None and split in data else 0
            columns[leaf] = slices.item_columns(data[split]) if sizes[leaf] and config.slice_by else set()
    slices.check_columns(config.slice_by or [], columns)
    return reports, sizes


def _check_unbuilt(config: RunConfig, manager, metadata: dict) -> None:
    """Each leaf's data read as its hook gives it to lm-eval and checked, for a run whose tasks lm-eval
    failed to build (it reads the first item of a split, say, before any check of ours)."""
    for name in config.resolved_tasks:
        for leaf in leaf_tasks(manager, name):
            check_task_data(
                leaf, load_task_data(manager, leaf, metadata), task_config(manager, leaf), config.shots
            )


def _identity(backend, config: RunConfig, replay) -> tuple[str, dict]:
    """What to load (or ask) and the model's fingerprint: the backend's, or the replayed runs'."""
    return backend.identity(config.model) if replay is None else (config.model, replay.model_fp)
