"""A recipe and the resolved configuration of one of its stages (the stage's own dataclass, declared in
its module under ``medbench/train/stages/``), from the recipe YAML + overrides.

A recipe (``trainers/<name>.yaml``) has a ``stages:`` mapping; each stage names its input model
(``base``, an earlier stage, or a path), its data, its own options, and a ``training:`` block passed
to the TRL config class of that stage (``SFTConfig``, ``RewardConfig``, ``DPOConfig``,
``GRPOConfig``). ``notes:`` records where a paper is silent and which value was chosen.
CLI overrides are ``key=value`` pairs (``training.learning_rate=1e-4``), parsed as YAML scalars.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from medbench.config.plugin_files import Recipe as RecipeFile
from medbench.config.plugin_files import checked
from medbench.core.errors import MedbenchError
from medbench.core.paths import plugin_dir


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


@dataclass
class Recipe:
    name: str
    base_model: str
    output_root: str
    source: str
    stages: dict[str, dict]


def load_recipe(path: str, output_root: str | None = None) -> Recipe:
    """A recipe by path, or by name from the shipped ``trainers/`` folder; ``output_root`` relocates
    every stage's output folder."""
    candidate = Path(path)
    if not candidate.is_file():
        candidate = plugin_dir("trainers") / (path if path.endswith(".yaml") else f"{path}.yaml")
    if not candidate.is_file():
        shipped = ", ".join(p.stem for p in sorted(plugin_dir("trainers").glob("*.yaml")))
        raise MedbenchError(f"recipe {path} not found (shipped recipes: {shipped})")
    data = checked(candidate, RecipeFile)
    root = output_root or str(data.get("output_root", f"models/{data['recipe']}"))
    return Recipe(data["recipe"], str(data["base_model"]), root, str(candidate), data["stages"])


def _scalar(raw: str) -> Any:
    """A YAML scalar, with ``1e-3``-style numbers read as floats (YAML 1.1 would keep them strings)."""
    value = yaml.safe_load(raw)
    if isinstance(value, str):
        for number in (int, float):
            try:
                return number(value)
            except ValueError:
                pass
    return value


def _set(target: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = value


def stage_values(recipe: Recipe, stage: str, overrides: list[str] | None = None) -> dict:
    """One stage's settings as the recipe gives them, then ``key=value`` overrides, with its output
    folder under the recipe's (the stage's own config class checks them: ``train.run.stage_config``)."""
    if stage not in recipe.stages:
        raise MedbenchError(
            f"recipe {recipe.name} has no '{stage}' stage (it has {', '.join(recipe.stages)})"
        )
    values = yaml.safe_load(yaml.safe_dump(recipe.stages[stage])) or {}
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep:
            raise MedbenchError(f"override '{item}' is not key=value")
        _set(values, key.strip(), _scalar(raw))
    values.setdefault("output_dir", str(Path(recipe.output_root) / stage))
    return values


def resolve_model_ref(ref: str, recipe: Recipe) -> str:
    """``base`` -> the recipe's base model; a stage name -> that stage's output folder; else as given."""
    from medbench.models.resolve import resolve_model

    if ref == "base":
        return resolve_model(recipe.base_model)
    if ref in recipe.stages:
        out = recipe.stages[ref].get("output_dir") or str(Path(recipe.output_root) / ref)
        if not (Path(out) / "config.json").is_file():
            raise MedbenchError(
                f"stage '{ref}' has not produced a model yet at {out}: run `medbench train {ref}` first"
            )
        return out
    return resolve_model(ref)


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def effective_batch_size(config: StageConfig) -> int:
    t = config.training
    return (
        int(t.get("per_device_train_batch_size", 8))
        * int(t.get("gradient_accumulation_steps", 1))
        * world_size()
    )
