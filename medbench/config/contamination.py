"""``ContaminationConfig``: the settings of ``medbench contamination``, declared once; those it shares
with ``run`` are declared there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field

from medbench.config.fields import same_as, setting
from medbench.config.run import SEED_RANGE, RunConfig, Seed, comma_list


@dataclass
class ContaminationConfig:
    train: list[str] = setting(
        help="training files to check against (comma-separated: .jsonl, .json, .csv or text lines)",
        parse=comma_list,
        metavar="FILE[,FILE...]",
        factory=list,
    )
    model_card: str | None = setting(
        None, "a model medbench trained: its card's training files (and its base models'), sha256-checked"
    )
    model: str | None = setting(
        None, "a model to probe (Min-K% Prob of each item against its option-shuffled copies)"
    )
    min_k: Annotated[float, Field(gt=0, le=100)] = setting(
        20.0,
        "the probe's k: the share (percent) of each text's least likely tokens averaged",
        what="in (0, 100]",
    )
    min_k_convention: Literal["medbench", "reference"] = setting(
        "medbench",
        "how the probe takes k%: medbench (every text token after lm-eval's prefix token, k% rounded "
        "up) or reference (Shi et al.'s code: the tokenizer's encoding, its first token unscored, "
        "k% rounded down)",
    )
    references: Annotated[int, Field(ge=1, le=24)] = setting(
        3, "the probe's reference: option-shuffled copies of each item scored", what="1 to 24"
    )
    seed: Seed = setting(1234, "seed of the probe's option shuffles", what=SEED_RANGE)
    tasks: list[str] = same_as(RunConfig, "tasks")
    data_dir: str | None = same_as(RunConfig, "data_dir")
    include_path: str | None = same_as(RunConfig, "include_path")
    output: str = same_as(RunConfig, "output")
    backend: str = same_as(RunConfig, "backend")
    backend_options: dict = same_as(RunConfig, "backend_options")
