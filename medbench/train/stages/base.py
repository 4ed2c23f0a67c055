"""What every training stage declares (TRL's ``*_config.py`` + ``*_trainer.py`` pairing, in one file per
stage): its options, its TRL config class and the arguments it adds, its rows in TRL's format, how it
trains, and the held-out check that shows it did what it claims.

A stage module under ``medbench/train/stages/`` names a :class:`Stage` instance ``STAGE``; the registry
finds it, and ``medbench train``, the report's stage order and the demo use it with no other wiring.
Heavy imports (torch, transformers, TRL) happen inside the methods.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass
class StageConfig:
    """Options every stage has (a recipe's ``stages.<name>`` block)."""

    model: str = "base"
    data: str = ""
    eval_data: str | None = None
    output_dir: str = ""
    max_length: int = 512
    training: dict[str, Any] = field(default_factory=dict)
    lora: dict[str, Any] | None = None  # r, lora_alpha, lora_dropout, target_modules; qlora: true for 4-bit
    notes: dict[str, str] = field(default_factory=dict)


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
        """Train and return the model card (see :func:`medbench.train.run.finish`)."""
        import trl

        from medbench.train.models import peft_config
        from medbench.train.run import finish, fit, train_dataset

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
