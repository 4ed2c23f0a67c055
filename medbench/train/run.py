"""Running one training stage with TRL, and leaving a model folder ``medbench run`` evaluates directly.

Each stage writes its output folder with the model, tokenizer and ``medbench_model_card.json``
(recipe, stage, base model, data fingerprints, steps, final losses, the held-out check before and
after, the resolved configuration).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from medbench.errors import MedbenchError
from medbench.hashing import sha256_file
from medbench.paths import plugin_dir
from medbench.schemas import ModelCard
from medbench.train import data
from medbench.train.config import Recipe, effective_batch_size, resolve_model_ref
from medbench.train.stages import get_stage
from medbench.train.stages.base import Stage, StageConfig


def check_training_keys(stage: Stage, config: StageConfig) -> str:
    """Reject ``training:`` keys the stage's TRL config does not have (no GPU or DeepSpeed needed)."""
    import trl

    cls = getattr(trl, stage.trl_config)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(config.training) - known)
    if unknown:
        raise MedbenchError(f"stage {stage.name}: {cls.__name__} has no option(s) {', '.join(unknown)}")
    return cls.__name__


def _shipped(value):
    """``trainers/deepspeed_zero2.json`` resolves to the shipped copy wherever medbench is installed."""
    if isinstance(value, str) and value.startswith("trainers/"):
        return str(plugin_dir("trainers") / value.removeprefix("trainers/"))
    return value


def trl_args(stage: Stage, config: StageConfig, seed: int = 42):
    """The TRL config object of the stage: medbench's defaults, the stage's own options, then the
    recipe's ``training:`` block."""
    import torch
    import trl

    check_training_keys(stage, config)
    training = {k: _shipped(v) for k, v in config.training.items()}
    common = {
        "output_dir": config.output_dir,
        "report_to": [],
        "save_strategy": "no",
        "seed": seed,
        "logging_steps": 1,
        "use_cpu": not torch.cuda.is_available(),
    }
    return getattr(trl, stage.trl_config)(**{**common, **stage.trl_options(config), **training})


def train_dataset(rows: list[dict]):
    import datasets

    return datasets.Dataset.from_list(rows)


def heldout_evidence(stage: Stage, spec: str, before: str, after: str) -> dict:
    """The stage's held-out measurement on the input model and on the trained one."""
    check = stage.heldout
    if check is None:
        return {}
    items = check.read(spec)
    first = check.before if check.before is not None else check.measure(before, items)
    after_value = check.measure(after, items)
    return {"metric": check.metric, "better": check.better, "before": first, "after": after_value}


def finish(trainer, tokenizer, config: StageConfig, stage: Stage, recipe: Recipe, base: str) -> dict:
    """Save the trained model (LoRA merged: a plain checkpoint) and its model card; returns the card."""
    out = Path(config.output_dir)
    model = trainer.model
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    files = [data.data_path(config.data)]
    history = trainer.state.log_history
    losses = [h["loss"] for h in history if "loss" in h]
    card = ModelCard(
        recipe=recipe.name,
        recipe_file=recipe.source,
        stage=stage.name,
        base_model=base,
        steps=trainer.state.global_step,
        first_loss=losses[0] if losses else None,
        final_loss=losses[-1] if losses else None,
        train_loss=next((h["train_loss"] for h in reversed(history) if "train_loss" in h), None),
        effective_batch_size=effective_batch_size(config),
        config=dataclasses.asdict(config),
    )
    if config.eval_data:
        card.heldout = heldout_evidence(stage, config.eval_data, base, str(out))
        files.append(data.data_path(config.eval_data))
    card.data_sha256 = {str(f): sha256_file(f) for f in files}
    record = card.record()
    text = json.dumps(record, ensure_ascii=False, indent=2)
    (out / "medbench_model_card.json").write_text(text, encoding="utf-8")
    return record


def fit(trainer) -> None:
    """Train, the per-step logs going to the stage's log.txt rather than the console."""
    from medbench import console

    console.quiet_trainer(trainer)
    trainer.train()


def run_stage(name: str, config: StageConfig, recipe: Recipe) -> dict:
    """Train one stage (everything the libraries say in ``<output_dir>/log.txt``); returns its model
    card."""
    from medbench import console, progress

    progress.stage(f"training stage {name}")
    stage = get_stage(name)
    base = resolve_model_ref(config.model, recipe)
    Path(config.output_dir).mkdir(parents=True, exist_ok=True)
    with console.log_to(Path(config.output_dir) / "log.txt"):
        return stage.train(config, recipe, base, trl_args(stage, config))
