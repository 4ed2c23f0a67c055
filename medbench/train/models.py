"""Every model the training stages and their held-out checks load, in one place, with PEFT and
quantization settings made by TRL's own helpers (``ModelConfig``, ``get_peft_config``,
``get_quantization_config``) from a recipe's ``lora:`` block."""

from __future__ import annotations

import functools
from typing import Any


def model_config(lora: dict[str, Any] | None, task_type: str = "CAUSAL_LM"):
    """TRL's ``ModelConfig`` for a recipe's ``lora:`` block (r, lora_alpha, lora_dropout,
    target_modules, qlora); None without one."""
    if not lora:
        return None
    from trl import ModelConfig

    return ModelConfig(
        use_peft=True,
        lora_r=lora.get("r", 8),
        lora_alpha=lora.get("lora_alpha", 8),
        lora_dropout=lora.get("lora_dropout", 0.0),
        lora_target_modules=lora.get("target_modules", "all-linear"),
        lora_task_type=task_type,
        load_in_4bit=bool(lora.get("qlora")),
        bnb_4bit_quant_type="nf4",
    )


def peft_config(lora: dict[str, Any] | None, task_type: str = "CAUSAL_LM"):
    """The PEFT ``LoraConfig`` of a stage (None: full fine-tuning)."""
    from trl import get_peft_config

    config = model_config(lora, task_type)
    return get_peft_config(config) if config else None


def _tokenizer(path: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal(path: str, lora: dict[str, Any] | None = None):
    """(causal LM, tokenizer); 4-bit weights when the stage asks for QLoRA."""
    from transformers import AutoModelForCausalLM
    from trl import get_quantization_config

    config = model_config(lora)
    quantization = get_quantization_config(config) if config else None
    kwargs = {"quantization_config": quantization} if quantization else {}
    return AutoModelForCausalLM.from_pretrained(path, **kwargs), _tokenizer(path)


def load_reward(path: str):
    """(scalar-head sequence classifier, tokenizer) for reward training and scoring."""
    from transformers import AutoModelForSequenceClassification

    tokenizer = _tokenizer(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
    model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


@functools.lru_cache(maxsize=2)
def _reward_scorer(path: str):
    model, tokenizer = load_reward(path)
    return model.eval(), tokenizer


def score_replies(reward_path: str, prompt: list[dict], replies: list[str]) -> list[float]:
    """Reward-model scores of replies to one prompt (chat template, as the reward stage trained)."""
    import torch

    model, tokenizer = _reward_scorer(reward_path)
    scores = []
    with torch.no_grad():
        for reply in replies:
            text = tokenizer.apply_chat_template(
                [*prompt, {"role": "assistant", "content": reply}], tokenize=False
            )
            ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)
            scores.append(float(model(**ids).logits[0, 0]))
    return scores
