"""What every training stage declares (TRL's ``*_config.py`` + ``*_trainer.py`` pairing, in one file per
stage): its options, its TRL config class and the arguments it adds, its rows in TRL's format, how it
trains, and the held-out check that shows it did what it claims.

A stage module under ``medbench/train/stages/`` names a :class:`Stage` instance ``STAGE``; the registry
finds it (or the entry-point group ``medbench.stages``), and ``medbench train`` and the report's stage
order use it with no other wiring; a recipe names it under ``stages`` (the demo trains the tiny
recipe's pretrain, sft, reward and dpo only).
Heavy imports (torch, transformers, TRL) happen inside the methods.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from medbench.config.schemas import ModelCard
from medbench.core.hashing import sha256_file
from medbench.train import data
from medbench.train.config import Recipe, StageConfig, effective_batch_size

__all__ = ["HeldOut", "Stage", "StageConfig", "finish", "fit", "train_dataset"]


@dataclass(frozen=True)
class HeldOut:
    """A held-out measurement on the input model and on the trained one (written into the model card)."""

    metric: str
    better: str  # "lower" or "higher"
    read: Callable[[str], list]  # held-out data spec -> items
    measure: Callable[[str, list], float]  # (model path, items) -> value
    before: float | None = None  # a fixed baseline instead of measuring the input model (e.g. chance)


class Stage:
    """One training stage. Subclasses set the class attributes and override what differs."""

    name: ClassVar[str]
    order: ClassVar[int]  # position in a training pipeline (reports list stages in this order)
    config: ClassVar[type[StageConfig]] = StageConfig
    trl_config: ClassVar[str]  # the TRL config class name (SFTConfig, DPOConfig, ...)
    trainer: ClassVar[str] = "SFTTrainer"  # the TRL trainer class name
    task_type: ClassVar[str] = "CAUSAL_LM"  # PEFT task type of the trained model
    heldout: ClassVar[HeldOut | None] = None

    def trl_options(self, config: StageConfig) -> dict:
        """Arguments of the TRL config that come from the stage's own options."""
        return {"max_length": config.max_length}

    def rows(self, config: StageConfig) -> list[dict]:
        """The training data in TRL's format."""
        raise NotImplementedError

    def load(self, base: str, config: StageConfig):
        """(model, tokenizer) to train, from the input model."""
        from medbench.train.models import load_causal

        return load_causal(base, config.lora)

    def train(self, config: StageConfig, recipe, base: str, args) -> dict:
        """Train and return the model card (see :func:`finish`)."""
        import trl

        from medbench.train.models import peft_config

        model, tokenizer = self.load(base, config)
        trainer = getattr(trl, self.trainer)(
            model=model,
            args=args,
            train_dataset=train_dataset(self.rows(config)),
            processing_class=tokenizer,
            peft_config=peft_config(config.lora, self.task_type),
        )
        fit(trainer)
        return finish(trainer, tokenizer, config, self, recipe, base)


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
    files = [kept_copy(data.data_path(config.data), out)]
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
    card.data_sha256 = {
        str(f.relative_to(out)) if f.is_relative_to(out) else str(f): sha256_file(f) for f in files
    }
    record = card.record()
    text = json.dumps(record, ensure_ascii=False, indent=2)
    (out / "medbench_model_card.json").write_text(text, encoding="utf-8")
    return record


#: the folder inside a trained model that holds the files it was trained on
TRAINING_DATA = "training_data"


def kept_copy(path: Path, out: Path) -> Path:
    """The training file inside the model folder (a hard link where the file system allows, else a
    copy): the card names only files inside its model (a received card must not make medbench read
    elsewhere), and the model can be audited wherever it goes."""
    import os
    import shutil

    kept = out / TRAINING_DATA / path.name
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.unlink(missing_ok=True)
    try:
        os.link(path, kept)
    except OSError:
        shutil.copyfile(path, kept)
    return kept


def fit(trainer) -> None:
    """Train, the per-step logs going to the stage's log.txt rather than the console."""
    from medbench.core import console

    console.quiet_trainer(trainer)
    trainer.train()
