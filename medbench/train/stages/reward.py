"""``reward``: a scalar-head reward model on preference pairs or K-way rankings; held-out check: pair
accuracy (chance, 0.5, is the untrained head's baseline)."""

from __future__ import annotations

from dataclasses import dataclass

from medbench.train import data, evidence
from medbench.train.stages.base import HeldOut, Stage, StageConfig


@dataclass
class RewardStageConfig(StageConfig):
    pairing: str = "adjacent"  # rankings -> adjacent pairs (ChiMed-GPT) or all C(K,2) pairs (Zhongjing)


class Reward(Stage):
    name = "reward"
    order = 30
    config = RewardStageConfig
    trl_config = "RewardConfig"
    trainer = "RewardTrainer"
    task_type = "SEQ_CLS"
    heldout = HeldOut("pair_accuracy", "higher", data.preference_pairs, evidence.reward_accuracy, before=0.5)

    def rows(self, config: RewardStageConfig) -> list[dict]:
        return data.preference_pairs(config.data, config.pairing)

    def load(self, base: str, config: StageConfig):
        from medbench.train.models import load_reward

        return load_reward(base)


STAGE = Reward()
