"""``ContaminationConfig``: the settings of ``medbench contamination``, declared once; those it shares
with ``run`` are declared there."""

from __future__ import annotations

from dataclasses import dataclass

from medbench.config.fields import same_as, setting
from medbench.config.run import RunConfig, comma_list


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
    tasks: list[str] = same_as(RunConfig, "tasks")
    data_dir: str | None = same_as(RunConfig, "data_dir")
    include_path: str | None = same_as(RunConfig, "include_path")
    output: str = same_as(RunConfig, "output")
