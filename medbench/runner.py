"""``medbench run``: evaluate a model on medbench tasks through lm-eval and write one run folder.

lm-eval does the evaluation (``simple_evaluate`` over a ``TaskManager`` that indexes medbench's
``tasks/``); this module resolves names, the model and the decoding settings, checks the data before
a model is loaded, keeps a per-model request cache beside the runs (a killed run, re-run with the
same command, skips every finished request), and hands the results to :mod:`medbench.rundir`.

Items whose request failed (API backends, after retries) are left out of every score, never scored
as wrong answers: the run is rescored from its own cached answers without them (lm-eval computes the
metrics, over ``samples`` = the items that succeeded), each score carries ``n_failed`` beside ``n``,
and ``status.json`` marks the run incomplete until a re-run fills them in.
"""

from __future__ import annotations

import difflib
import logging
import tempfile
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from medbench import console, llm_extract, progress, thinking
from medbench.backends import backend_config, registry
from medbench.catalog import leaf_tasks, load_task_data, task_config
from medbench.checks import (
    check_config,
    check_generation_budget,
    check_no_task_twice,
    check_task_data,
    warn_unusable,
)
from medbench.config.fields import flagged
from medbench.config.identity import answer_identity
from medbench.config.run import RunConfig
from medbench.datareport import DataReport, Skipped, data_json, read_once
from medbench.datasources import resolve_data_dir
from medbench.errors import MedbenchError
from medbench.evaluate import Evaluation, evaluate
from medbench.models import cache_key
from medbench.paths import plugin_dir
from medbench.rundir import RunFolder
from medbench.schemas import RunStatus
from medbench.shards import process_rank, shard_items
from medbench.summary import Score, combine_repeats

log = logging.getLogger("medbench")

#: the run settings ``medbench run`` takes as flags of the same name (the rest: backend and its options)
SETTINGS = flagged(RunConfig)


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
class Replay:
    """Answers already computed elsewhere (``medbench merge``: the shards'), in place of a model."""

    lm: object  # an lm-eval LM answering from the recorded outputs
    model_fp: dict  # the model.json of the runs that computed them
    readings: object | None = None  # the LLM extractor's recorded readings, in its place


def run(config: RunConfig, replay: Replay | None = None) -> tuple[RunFolder | None, list[Score]]:
    """Evaluate, write the run folder, and return it with the scores (mean over repeats). Each task's
    data is read once: checked before the model loads, then handed to lm-eval as read. With
    ``replay``, lm-eval scores recorded answers instead of asking a model. In a worker process of a
    data-parallel launch (rank > 0) it writes nothing and returns (None, [])."""
    with read_once():
        return _run(config, replay)


def _run(config: RunConfig, replay: Replay | None) -> tuple[RunFolder | None, list[Score]]:
    check_config(config)
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
    decoding = gen_kwargs(config)
    config.resolved_tasks = resolve_tasks(
        config.tasks, task_manager(include_path=config.include_path).all_tasks, config.mode
    )
    # the model is resolved (an alias converted, a server asked) after the data is checked, unless the
    # data check needs it: a local model's chat template, read by the data hooks with --chat
    early = replay is not None or (config.chat and backend.capabilities.local)
    identified = _identity(backend, config, replay) if early else None
    if not early:
        backend.check_model(config.model)  # only the cheap part: a wrong path is one line at once
    metadata = run_metadata(config, identified[0] if identified and backend.capabilities.local else None)
    manager = task_manager(metadata, config.include_path)
    if not backend.capabilities.loglik:
        generation_only(config, manager)
    thinking.check_run(config, manager)
    check_no_task_twice(manager, config.resolved_tasks)
    reports: dict[str, DataReport] = {}
    sizes: dict[str, int] = {}
    for name in config.resolved_tasks:  # bad or missing data fails here, before the model is loaded
        for leaf in leaf_tasks(manager, name):
            data = load_task_data(manager, leaf, metadata)
            reports[leaf] = getattr(data, "report", None) or DataReport()
            cfg = task_config(manager, leaf)
            check_task_data(leaf, data, cfg, config.shots)
            split = cfg.get("test_split") or cfg.get("validation_split")
            sizes[leaf] = len(data[split]) if data is not None and split in data else 0
    selection = shard_items(config.shard, sizes, config.limit)
    model_path, model_fp = identified or _identity(backend, config, replay)

    out = Path(config.output)
    rank = process_rank()
    folder = None  # a data-parallel worker (rank > 0) writes nothing: rank 0 writes the run folder
    if rank == 0:
        folder = RunFolder.create(out, model_path if not backend.capabilities.local else config.model)
        folder.write_config(asdict(config))
        folder.write_json("model.json", model_fp)
        folder.write_versions()

    lm = backend.make_lm(model_path, config.seed) if replay is None else replay.lm
    if replay is None:
        check_generation_budget(config, lm)
    thinking.switch(lm, config.thinking)
    scratch = tempfile.TemporaryDirectory() if replay else None  # replayed answers are never cached
    name = f"{cache_key(model_fp, answer_identity(asdict(config)))}{f'.rank{rank}' if rank else ''}"
    cache = Path(scratch.name) / "replay.sqlite" if scratch else out / ".cache" / f"{name}.requests.sqlite"
    passes = Evaluation(config, lm, manager, cache, decoding, expand_chat=config.chat and replay is None)
    started = time.time()
    progress.stage(f"{Path(str(config.model)).name}: {', '.join(config.tasks)}")
    try:
        with (
            console.log_to(folder.path / "log.txt") if folder else nullcontext(),
            thinking.using_tags(tags),
            thinking.counting(getattr(lm, "tok_encode", None)),
            llm_extract.using(extractor),
        ):
            per_repeat, failed = evaluate(passes, folder, reports, selection)
    finally:
        if scratch:
            scratch.cleanup()
        else:
            backend.release(lm)
    if folder is None:
        return None, []
    scores = combine_repeats(per_repeat)
    reason = f"{failed} request(s) failed after retries; re-run the command" if failed else None
    folder.write_json("status.json", RunStatus(not failed, failed, reason).record())
    data = data_json(list(reports.values()))
    folder.write_json("data.json", data)
    usage = getattr(lm, "usage", None)
    folder.write_json(
        "calls.json",
        {
            "model_requests": {k: v for k, v in passes.calls.asked.items() if v},  # asked in this run
            # a re-run's finished work
            "answered_from_cache": {k: v for k, v in passes.calls.from_cache.items() if v},
            # cached values no model could have answered (planted, or another program's): asked again
            "cache_rejected": {k: v for k, v in passes.calls.rejected.items() if v},
            "seconds": round(time.time() - started, 2),
            "decoding_overrides": decoding,
            **({"api_usage": _usage_record(usage)} if usage else {}),
            **({"replicas": lm.pool.record()} if hasattr(lm, "pool") else {}),
            **({"extractor_usage": _usage_record(extractor.usage)} if extractor else {}),
        },
    )
    skipped = [Skipped(**row) for row in data["skipped_rows"]]
    samples = folder.path / ("samples" if config.repeats == 1 else "samples-0")
    folder.write_scores(scores, skipped, failed, warn_unusable(scores), thinking.summary(samples))
    return folder, scores


def _identity(backend, config: RunConfig, replay: Replay | None) -> tuple[str, dict]:
    """What to load (or ask) and the model's fingerprint: the backend's, or the replayed runs'."""
    return backend.identity(config.model) if replay is None else (config.model, replay.model_fp)


def _usage_record(usage) -> dict:
    """The API usage in calls.json: requests, tokens, how many failed after retries (which ones:
    failures.jsonl), and answers from a cache (the request cache's are in model_requests)."""
    record = {k: v for k, v in asdict(usage).items() if k not in ("failures", "cached")}
    return {**record, "failed": len(usage.failures), "cached": usage.cached}
