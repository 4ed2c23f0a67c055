"""``rejection_sampling`` (ChiMed-GPT): sample n replies per prompt, score them with the trained reward
model, and fine-tune on the top k; every sample, score and selection is kept in the output folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from medbench.core.errors import MedbenchError
from medbench.train import data
from medbench.train.stages.base import Stage, StageConfig


@dataclass
class RejectionSamplingConfig(StageConfig):
    reward_model: str = "reward"
    num_samples: int = 4
    top_k: int = 1
    max_new_tokens: int = 64
    temperature: float = 1.0


def sample_replies(model, tokenizer, prompt: list[dict], n: int, max_new_tokens: int, temperature: float):
    import torch

    text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(
            **ids,
            do_sample=True,
            temperature=temperature,
            max_new_tokens=max_new_tokens,
            num_return_sequences=n,
            pad_token_id=tokenizer.pad_token_id,
        )
    start = ids["input_ids"].shape[1]
    from medbench.backends._whole_chars import whole_characters

    return [whole_characters(tokenizer.decode(seq[start:], skip_special_tokens=True)).strip() for seq in out]


def select_top(replies: list[str], scores: list[float], k: int) -> list[str]:
    """The k highest-reward replies (ties keep sampling order); empty replies never qualify."""
    ranked = sorted((i for i, r in enumerate(replies) if r.strip()), key=lambda i: -scores[i])
    return [replies[i] for i in ranked[:k]]


class RejectionSampling(Stage):
    name = "rejection_sampling"
    order = 40
    config = RejectionSamplingConfig
    trl_config = "SFTConfig"

    def rows(self, config: RejectionSamplingConfig) -> list[dict]:
        raise MedbenchError("rejection sampling makes its rows from the policy's own samples")

    def train(self, config: RejectionSamplingConfig, recipe, base: str, args) -> dict:
        from trl import SFTTrainer

        from medbench.train.config import resolve_model_ref
        from medbench.train.models import load_causal, peft_config, score_replies
        from medbench.train.stages.base import finish, fit, train_dataset

        reward_path = resolve_model_ref(config.reward_model, recipe)
        model, tokenizer = load_causal(base, config.lora)
        chosen: list[dict] = []
        selections = []
        for prompt in data.prompts(config.data):
            replies = sample_replies(
                model, tokenizer, prompt, config.num_samples, config.max_new_tokens, config.temperature
            )
            scores = score_replies(reward_path, prompt, replies)
            top = select_top(replies, scores, config.top_k)
            selections.append({"prompt": prompt, "replies": replies, "scores": scores, "selected": top})
            chosen += [{"prompt": prompt, "completion": [{"role": "assistant", "content": r}]} for r in top]
        Path(config.output_dir).mkdir(parents=True, exist_ok=True)
        (Path(config.output_dir) / "rejection_samples.json").write_text(
            json.dumps(selections, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        if not chosen:
            raise MedbenchError("rejection sampling produced no non-empty replies to fine-tune on")
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=train_dataset(chosen),
            processing_class=tokenizer,
            peft_config=peft_config(config.lora, self.task_type),
        )
        fit(trainer)
        return finish(trainer, tokenizer, config, self, recipe, base)


STAGE = RejectionSampling()
