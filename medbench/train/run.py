"""Running one training stage with TRL, and leaving a model folder ``medbench run`` evaluates directly.

Each stage writes its output folder with the model, tokenizer and ``medbench_model_card.json``
(recipe, stage, base model, data fingerprints, steps, final losses, the held-out check before and
after, the resolved configuration).
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

from medbench.core.errors import MedbenchError
from medbench.core.paths import plugin_dir
from medbench.train.config import Recipe, resolve_model_ref, stage_values
from medbench.train.stages import get_stage
from medbench.train.stages.base import Stage, StageConfig

#: the value types a ``training:`` option is checked against (TRL's fields of other types, such as a
#: scheduler name or a DeepSpeed dict, are TRL's to check)
_PLAIN = (int, float, bool, str, type(None))


def check_training_keys(stage: Stage, config: StageConfig) -> str:
    """Reject ``training:`` keys the stage's TRL config does not have, and values not of a plain
    option's declared type (``learning_rate=abc`` would stop the optimizer after the model loads);
    no GPU or DeepSpeed needed."""
    import trl
    from pydantic import TypeAdapter, ValidationError

    cls = getattr(trl, stage.trl_config)
    fields = {f.name: f.type for f in dataclasses.fields(cls)}
    unknown = sorted(set(config.training) - set(fields))
    if unknown:
        raise MedbenchError(f"stage {stage.name}: {cls.__name__} has no option(s) {', '.join(unknown)}")
    for key, value in config.training.items():
        kinds = typing.get_args(fields[key]) or (fields[key],)
        if not set(kinds) <= set(_PLAIN):
            continue
        try:
            TypeAdapter(fields[key]).validate_python(value, strict=True)
        except ValidationError:
            names = " or ".join("null" if t is type(None) else t.__name__ for t in kinds)
            raise MedbenchError(
                f"stage {stage.name}: training.{key} must be {names} (got {value!r})"
            ) from None
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


def run_stage(name: str, config: StageConfig, recipe: Recipe) -> dict:
    """Train one stage (everything the libraries say in ``<output_dir>/log.txt``); returns its model
    card."""
    from medbench.core import console, progress

    progress.stage(f"training stage {name}")
    stage = get_stage(name)
    base = resolve_model_ref(config.model, recipe)
    Path(config.output_dir).mkdir(parents=True, exist_ok=True)
    with console.log_to(Path(config.output_dir) / "log.txt"):
        return stage.train(config, recipe, base, trl_args(stage, config))


def stage_config(recipe: Recipe, stage: str, overrides: list[str] | None = None) -> StageConfig:
    """The resolved configuration of one stage: recipe values, then ``key=value`` overrides."""
    cls = get_stage(stage).config
    values = stage_values(recipe, stage, overrides)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise MedbenchError(
            f"stage {stage}: unknown option(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    return cls(**values)
