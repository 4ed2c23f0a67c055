"""``rl``: online RL against the trained reward model. The Zhongjing paper used PPO; TRL 1.16 no longer
ships ``PPOTrainer``, so medbench uses TRL's GRPO trainer with the reward model as the reward function."""

from __future__ import annotations

from dataclasses import dataclass

from medbench.train import data
from medbench.train.stages.base import Stage, StageConfig


@dataclass
class RLStageConfig(StageConfig):
    reward_model: str = "reward"
    num_generations: int = 4
    max_completion_length: int = 64


class RL(Stage):
    name = "rl"
    order = 50
    config = RLStageConfig
    trl_config = "GRPOConfig"
    trainer = "GRPOTrainer"

    def trl_options(self, config: RLStageConfig) -> dict:
        return {
            "num_generations": config.num_generations,
            "max_completion_length": config.max_completion_length,
        }

    def rows(self, config: RLStageConfig) -> list[dict]:
        return [{"prompt": p} for p in data.prompts(config.data)]

    def train(self, config: RLStageConfig, recipe, base: str, args) -> dict:
        from trl import GRPOTrainer

        from medbench.train.config import resolve_model_ref
        from medbench.train.models import load_causal, load_reward, peft_config
        from medbench.train.stages.base import finish, fit, train_dataset

        reward_model, reward_tokenizer = load_reward(resolve_model_ref(config.reward_model, recipe))
        model, tokenizer = load_causal(base, config.lora)
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=reward_model,
            args=args,
            train_dataset=train_dataset(self.rows(config)),
            processing_class=tokenizer,
            reward_processing_classes=reward_tokenizer,
            peft_config=peft_config(config.lora, self.task_type),
        )
        fit(trainer)
        return finish(trainer, tokenizer, config, self, recipe, base)


STAGE = RL()
