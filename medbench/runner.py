"""``medbench run``: evaluate a model on medbench tasks through lm-eval and write one run folder.

lm-eval does the evaluation (``simple_evaluate`` over a ``TaskManager`` that indexes medbench's
``tasks/``); this module resolves names and the model, keeps a per-model request cache beside the
runs (so a killed run, re-run with the same command, skips every finished request), and hands the
results to :mod:`medbench.rundir`.
"""

from __future__ import annotations

import difflib
import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from medbench.catalog import leaf_tasks, load_task_data
from medbench.datasources import LEDGER, resolve_data_dir
from medbench.errors import MedbenchError
from medbench.models import fingerprint, model_key, resolve_model
from medbench.paths import plugin_dir
from medbench.rundir import RunFolder
from medbench.summary import Score, combine_repeats, summarise

log = logging.getLogger("medbench")

MODES = ("loglik", "gen")
PROMPT_STYLES = ("official", "lm-eval")


@dataclass
class RunConfig:
    """Everything that determines a run's results; saved verbatim as the run folder's config.json."""

    model: str
    tasks: list[str]
    shots: int | None = None
    mode: str | None = None
    limit: int | None = None
    data_dir: str | None = None
    output: str = "runs"
    device: str = "cpu"
    batch_size: int = 8
    seed: int = 1234
    repeats: int = 1
    prompt_style: str = "official"
    backend: str = "hf"
    resolved_tasks: list[str] = field(default_factory=list)


def run_metadata(data_dir: str | None = None, prompt_style: str = "official") -> dict:
    """Run-wide task metadata: lm-eval hands it to every task's data hook."""
    metadata = {"prompt_style": prompt_style}
    if data_dir:
        metadata["data_dir"] = str(Path(data_dir).expanduser().resolve())
    return metadata


def task_manager(data_dir: str | None = None, prompt_style: str = "official"):
    """lm-eval's TaskManager over medbench's plug-ins only, with the run-wide task metadata."""
    from lm_eval.tasks import TaskManager

    return TaskManager(
        include_path=str(plugin_dir("tasks")),
        include_defaults=False,
        metadata=run_metadata(data_dir, prompt_style),
    )


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


def count_calls(lm, counter: Counter) -> None:
    """Count the requests that reach the model itself (the request cache answers the others)."""
    for method in ("loglikelihood", "loglikelihood_rolling", "generate_until"):
        original = getattr(lm, method)

        def counted(requests, *args, _original=original, _method=method, **kwargs):
            counter[_method] += len(requests)
            return _original(requests, *args, **kwargs)

        setattr(lm, method, counted)


def make_lm(config: RunConfig, model_path: str):
    if config.backend != "hf":
        raise MedbenchError(f"unknown backend '{config.backend}' (available: hf)")
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=model_path, device=config.device, batch_size=config.batch_size)


def run(config: RunConfig) -> tuple[RunFolder, list[Score]]:
    """Evaluate, write the run folder, and return it with the scores (mean over repeats)."""
    from lm_eval import simple_evaluate

    if config.mode and config.mode not in MODES:
        raise MedbenchError(f"unknown mode '{config.mode}' (choose {' or '.join(MODES)})")
    if config.prompt_style not in PROMPT_STYLES:
        raise MedbenchError(
            f"unknown prompt style '{config.prompt_style}' (choose {', '.join(PROMPT_STYLES)})"
        )
    resolve_data_dir(config.data_dir)  # a wrong --data-dir fails before the model loads
    manager = task_manager(config.data_dir, config.prompt_style)
    config.resolved_tasks = resolve_tasks(config.tasks, manager.all_tasks, config.mode)
    model_path = resolve_model(config.model)
    LEDGER.reset()
    metadata = run_metadata(config.data_dir, config.prompt_style)
    for name in config.resolved_tasks:  # bad or missing data fails here, before the model is loaded
        for leaf in leaf_tasks(manager, name):
            load_task_data(manager, leaf, metadata)
    model_fp = fingerprint(model_path)
    out = Path(config.output)
    folder = RunFolder.create(out, config.model)
    folder.write_json("config.json", asdict(config))
    folder.write_json("model.json", model_fp)
    folder.write_versions()

    lm = make_lm(config, model_path)
    calls: Counter = Counter()
    count_calls(lm, calls)
    cache = out / ".cache" / model_key(model_fp)
    per_repeat = []
    started = time.time()
    for repeat in range(config.repeats):
        seed = config.seed + repeat
        results = simple_evaluate(
            model=lm,
            tasks=config.resolved_tasks,
            num_fewshot=config.shots,
            limit=config.limit,
            use_cache=str(cache),
            log_samples=True,
            task_manager=manager,
            random_seed=seed,
            numpy_random_seed=seed,
            torch_random_seed=seed,
            fewshot_random_seed=seed,
        )
        folder.write_results(results, repeat if config.repeats > 1 else None)
        per_repeat.append(summarise(results))
    scores = combine_repeats(per_repeat)
    folder.write_json("data.json", LEDGER.report())
    folder.write_json(
        "calls.json", {"model_requests": dict(calls), "seconds": round(time.time() - started, 2)}
    )
    folder.write_scores(scores, LEDGER.skipped)
    return folder, scores
