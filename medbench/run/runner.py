"""``medbench run``: evaluate a model on medbench tasks through lm-eval and write one run folder.

lm-eval does the evaluation: its ``evaluate`` over the tasks a ``TaskManager`` indexing medbench's
``tasks/`` built once (:mod:`medbench.run.tasks`). A run is plan -> execute -> record:
:func:`medbench.run.planning.plan` resolves names, the model and the decoding settings and checks the
data before a model is loaded; :func:`execute` runs lm-eval behind a per-model request cache beside the
runs (a killed run, re-run with the same command, skips every finished request); :func:`record` writes
the run folder (:mod:`medbench.run.rundir`).

Items whose request failed (API backends, after retries) are left out of every score, never scored
as wrong answers: the run is rescored from its own cached answers without them (lm-eval computes the
metrics, over ``samples`` = the items that succeeded), each score carries ``n_failed`` beside ``n``,
and ``status.json`` marks the run incomplete until a re-run fills them in.
"""

from __future__ import annotations

import logging
import tempfile
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

from medbench.analysis import plugin as analyses
from medbench.analysis.summary import Score, combine_repeats, mean_over_repeats
from medbench.audit.training_files import CARD
from medbench.config import schemas
from medbench.config.record import RunRecord
from medbench.config.run import RunConfig
from medbench.config.schemas import RunStatus
from medbench.core import console, progress
from medbench.core.errors import MedbenchError
from medbench.data.datareport import Skipped, data_json
from medbench.models import thinking
from medbench.models.resolve import cache_key
from medbench.run import card_audit
from medbench.run.checks import check_generation_budget, warn_unusable
from medbench.run.evaluate import Evaluation, evaluate
from medbench.run.identity import answer_identity
from medbench.run.planning import RunPlan, plan
from medbench.run.rundir import RunFolder
from medbench.run.shards import process_rank

log = logging.getLogger("medbench")

#: status.json's reason from the moment the folder is made until every result file is written: a run
#: killed, or stopped by a failed write (a full disk), is never read as complete
UNFINISHED = "the run stopped before all its results were written; re-run the command"


@dataclass
class Replay:
    """Answers already computed elsewhere (``medbench merge``: the shards'), in place of a model."""

    lm: object  # an lm-eval LM answering from the recorded outputs
    model_fp: dict  # the model.json of the runs that computed them
    readings: object | None = None  # the LLM extractor's recorded readings, in its place
    #: the fragile margin the runs used (their margins.json): a replay loads no weights, so the
    #: backend cannot know the dtype whose noise sets it
    margin_noise: float | None = None


def run(config: RunConfig, replay: Replay | None = None) -> tuple[RunFolder | None, list[Score]]:
    """Evaluate, write the run folder, and return it with the scores (mean over repeats). Each task is
    built once (its data read once: checked before the model loads, then every lm-eval pass scores the
    built task). With ``replay``, lm-eval scores recorded answers instead of asking a model. In a
    worker process of a data-parallel launch (rank > 0) it writes nothing and returns (None, [])."""
    progress.stage(
        f"{Path(str(config.model)).name}: {', '.join(config.tasks)}: reading the data, loading the model"
    )
    resolved = plan(config, replay)
    folder = _open_folder(resolved)
    passes, per_repeat, failed, seconds = execute(resolved, folder, replay)
    if folder is None:
        return None, []
    noise = replay.margin_noise if replay is not None else None
    return folder, record(resolved, folder, passes, per_repeat, failed, seconds, noise)


def _open_folder(resolved: RunPlan) -> RunFolder | None:
    """The run folder with what the numbers will depend on (config, model, versions); None in a
    data-parallel worker (rank > 0): rank 0 writes the run folder."""
    if process_rank() != 0:
        return None
    config, local = resolved.config, resolved.backend.capabilities.local
    folder = RunFolder.create(Path(config.output), config.model if local else resolved.model_path)
    folder.write_json("status.json", RunStatus(False, 0, UNFINISHED).record())  # until record() ends
    folder.write_config(asdict(config))
    folder.write_json("model.json", resolved.model_fp)
    if local:
        _record_card(folder, resolved.model_path)
    folder.write_versions()
    return folder


def _record_card(folder: RunFolder, model_path: str) -> None:
    """``model_card.json``: the card of a model medbench trained, as the run found it. The report draws
    the stage plot from this copy: it reads only the folders it is given, never a path a received
    model.json names."""
    card = Path(model_path) / CARD
    if not card.is_file():
        return
    try:
        found = schemas.read(schemas.ModelCard, card)
    except MedbenchError as exc:
        log.warning("no stage in the report for this run: %s", exc)
        return
    folder.write_json("model_card.json", found.record())


def execute(resolved: RunPlan, folder: RunFolder | None, replay: Replay | None = None):
    """Load (or replay) the model and evaluate every repeat behind the request cache; returns the
    passes' record (model, calls), the scores of each repeat, the failed items and the seconds."""
    config, backend = resolved.config, resolved.backend
    lm = backend.make_lm(resolved.model_path, config.seed) if replay is None else replay.lm
    if replay is None:
        check_generation_budget(config, lm)
    thinking.switch(lm, config.thinking)
    thinking.use_tags(lm, resolved.context.tags)
    scratch = tempfile.TemporaryDirectory() if replay else None  # replayed answers are never cached
    cache = Path(scratch.name) / "replay.sqlite" if scratch else _cache_path(resolved)
    expand = config.chat and replay is None
    passes = Evaluation(
        config, lm, resolved.manager, resolved.built, resolved.context, cache, resolved.decoding, expand
    )
    started = time.time()
    progress.stage(f"{Path(str(config.model)).name}: {', '.join(config.tasks)}")
    try:
        with console.log_to(folder.path / "log.txt") if folder else nullcontext():
            per_repeat, failed = evaluate(passes, folder, resolved.reports, resolved.selection)
    finally:
        if scratch:
            scratch.cleanup()
        else:
            backend.release(lm)
    return passes, per_repeat, failed, round(time.time() - started, 2)


def _cache_path(resolved: RunPlan) -> Path:
    """The model's request cache beside the runs, named by everything that changes its answers (one
    per data-parallel rank)."""
    rank = process_rank()
    key = cache_key(resolved.model_fp, answer_identity(asdict(resolved.config)))
    return Path(resolved.config.output) / ".cache" / f"{key}{f'.rank{rank}' if rank else ''}.requests.sqlite"


def record(
    resolved: RunPlan,
    folder: RunFolder,
    passes: Evaluation,
    per_repeat: list,
    failed: int,
    seconds: float,
    margin_noise: float | None = None,
) -> list[Score]:
    """The run folder's data report, calls and scores, then its status (last: a run stopped before
    marks nothing complete); returns the scores (mean over repeats). ``margin_noise``: a replay's
    recorded fragile margin, in place of the backend's."""
    scores = combine_repeats(per_repeat)
    data = data_json(list(resolved.reports.values()))
    folder.write_json("data.json", data)
    lm, extractor, calls = passes.lm, resolved.context.extractor, passes.calls
    usage = getattr(lm, "usage", None)
    folder.write_json(
        "calls.json",
        {
            "model_requests": {k: v for k, v in calls.asked.items() if v},  # asked in this run
            # a re-run's finished work
            "answered_from_cache": {k: v for k, v in calls.from_cache.items() if v},
            # cached values no model could have answered (planted, or another program's): asked again
            "cache_rejected": {k: v for k, v in calls.rejected.items() if v},
            "seconds": seconds,
            "decoding_overrides": resolved.decoding,
            **({"api_usage": _usage_record(usage)} if usage else {}),
            **({"replicas": lm.pool.record()} if hasattr(lm, "pool") else {}),
            **({"extractor_usage": _usage_record(extractor.usage)} if extractor else {}),
        },
    )
    skipped = [Skipped(**row) for row in data["skipped_rows"]]
    repeats = [None] if resolved.config.repeats == 1 else list(range(resolved.config.repeats))
    written = RunRecord.open(folder.path)
    samples = written.sample_dir(repeats[0])
    # once, checked like any received file, for everything derived from the per-item outputs
    records = [written.all_samples(r) for r in repeats]
    noise = resolved.config.fragile_margin or margin_noise or resolved.backend.margin_noise
    found = _analyses(resolved.config, records, folder.path, noise, scores)
    for name, data in found.files.items():
        folder.write_json(name, data)
    clean, note = card_audit.record_clean(resolved, folder, records)
    scores += found.scores + clean
    warnings = resolved.warnings + warn_unusable(scores) + found.warnings
    folder.write_scores(scores, skipped, failed, warnings, thinking.summary(samples), found.markdown + note)
    reason = f"{failed} request(s) failed after retries; re-run the command" if failed else None
    folder.write_json("status.json", RunStatus(not failed, failed, reason).record())
    return scores


def _analyses(config, records: list[dict], path: Path, noise: float, scores: list[Score]) -> analyses.Finding:
    """Every analysis over each repeat's records; with repeats, a score is the mean over them (as the
    run's own scores are) and the files and results.md sections are repeat 0's, said so first."""
    found = [
        analyses.apply(
            analyses.Context(
                config, per_item, path, noise, "results.json" if len(records) == 1 else f"results-{r}.json"
            ),
            scores,
        )
        for r, per_item in enumerate(records)
    ]
    first = found[0]
    if len(found) > 1:
        first.scores = mean_over_repeats([f.scores for f in found])
        if first.markdown:
            first.markdown = (
                f"\nThe analyses' scores are the mean over the {len(found)} repeats; their files and "
                "the sections below show repeat 0.\n" + first.markdown
            )
        first.warnings = list(dict.fromkeys(w for f in found for w in f.warnings))
    return first


def _usage_record(usage) -> dict:
    """The API usage in calls.json: requests, tokens, how many failed after retries (which ones:
    failures.jsonl), and answers from a cache (the request cache's are in model_requests)."""
    record = {k: v for k, v in asdict(usage).items() if k not in ("failures", "cached")}
    return {**record, "failed": len(usage.failures), "cached": usage.cached}
