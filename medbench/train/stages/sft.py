"""``sft``: instruction and multi-turn dialogue fine-tuning, loss on the responses only; held-out check:
the mean log-likelihood of held-out reference answers."""

from __future__ import annotations

from dataclasses import dataclass

from medbench.train import data, evidence
from medbench.train.stages.base import HeldOut, Stage, StageConfig


@dataclass
class SFTStageConfig(StageConfig):
    packing: bool = False


class SFT(Stage):
    name = "sft"
    order = 20
    config = SFTStageConfig
    trl_config = "SFTConfig"
    heldout = HeldOut("reference_loglik", "higher", data.sft_examples, evidence.response_loglik)

    def trl_options(self, config: SFTStageConfig) -> dict:
        return {"max_length": config.max_length, "packing": config.packing}

    def rows(self, config: SFTStageConfig) -> list[dict]:
        return data.sft_examples(config.data)


STAGE = SFT()
