"""``dpo``: direct preference optimisation (IIMedGPT, Qilin-Med); held-out check: the mean
log-probability margin of chosen over rejected replies."""

from __future__ import annotations

from dataclasses import dataclass

from medbench.train import data, evidence
from medbench.train.stages.base import HeldOut, Stage, StageConfig


@dataclass
class DPOStageConfig(StageConfig):
    beta: float = 0.1


class DPO(Stage):
    name = "dpo"
    order = 60
    config = DPOStageConfig
    trl_config = "DPOConfig"
    trainer = "DPOTrainer"
    heldout = HeldOut(
        "chosen_minus_rejected_logprob", "higher", data.preference_pairs, evidence.preference_margin
    )

    def trl_options(self, config: DPOStageConfig) -> dict:
        return {"beta": config.beta, "max_length": config.max_length}

    def rows(self, config: DPOStageConfig) -> list[dict]:
        return data.preference_pairs(config.data)


STAGE = DPO()
