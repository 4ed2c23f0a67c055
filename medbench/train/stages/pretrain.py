"""``pretrain``: continued pre-training on plain text packed into ``block_size`` token blocks; held-out
check: perplexity of held-out medical text."""

from __future__ import annotations

from dataclasses import dataclass

from medbench.train import data, evidence
from medbench.train.stages.base import HeldOut, Stage, StageConfig


@dataclass
class PretrainConfig(StageConfig):
    block_size: int = 512


class Pretrain(Stage):
    name = "pretrain"
    order = 10
    config = PretrainConfig
    trl_config = "SFTConfig"
    heldout = HeldOut("perplexity", "lower", data.texts, evidence.perplexity)

    def trl_options(self, config: PretrainConfig) -> dict:
        return {
            "dataset_text_field": "text",
            "packing": True,
            "max_length": config.block_size,
            "completion_only_loss": False,
        }

    def rows(self, config: PretrainConfig) -> list[dict]:
        return [{"text": t} for t in data.texts(config.data)]


STAGE = Pretrain()
