"""Held-out measurements that show a stage did what it claims (written into each model card).

* pretrain: perplexity of held-out medical text (lower is better);
* sft: mean log-likelihood of held-out reference answers given their prompts (higher);
* reward: accuracy of the reward model on held-out preference pairs (chosen scores higher);
* dpo: mean log-probability margin log p(chosen) - log p(rejected) on held-out pairs (higher).

Prompts and replies go through the chat template exactly as the trainers format them.
"""

from __future__ import annotations

import math


def _causal(path: str):
    from medbench.train.models import load_causal

    model, tokenizer = load_causal(path)
    return model.eval(), tokenizer


def perplexity(path: str, texts: list[str]) -> float:
    """Token-level perplexity over all texts (each scored on its own)."""
    import torch

    model, tokenizer = _causal(path)
    total, count = 0.0, 0
    with torch.no_grad():
        for text in texts:
            ids = tokenizer(text, return_tensors="pt")["input_ids"]
            if ids.shape[1] < 2:
                continue
            out = model(ids, labels=ids)
            total += float(out.loss) * (ids.shape[1] - 1)
            count += ids.shape[1] - 1
    return math.exp(total / count)


def _completion_logprob(model, tokenizer, prompt: list[dict], completion: list[dict]) -> float:
    import torch

    prefix = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template([*prompt, *completion], tokenize=False)
    prefix_ids = tokenizer(prefix, add_special_tokens=False)["input_ids"]
    ids = tokenizer(full, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = model(ids).logits[0, :-1].float()
    targets = ids[0, 1:]
    logprobs = torch.log_softmax(logits, dim=-1).gather(1, targets[:, None])[:, 0]
    return float(logprobs[len(prefix_ids) - 1 :].sum())


def response_loglik(path: str, examples: list[dict]) -> float:
    """Mean log-likelihood of each example's ``completion`` given its ``prompt``."""
    model, tokenizer = _causal(path)
    values = [_completion_logprob(model, tokenizer, e["prompt"], e["completion"]) for e in examples]
    return sum(values) / len(values)


def preference_margin(path: str, pairs: list[dict]) -> float:
    """Mean log p(chosen) - log p(rejected) under the policy."""
    model, tokenizer = _causal(path)
    margins = [
        _completion_logprob(model, tokenizer, p["prompt"], p["chosen"])
        - _completion_logprob(model, tokenizer, p["prompt"], p["rejected"])
        for p in pairs
    ]
    return sum(margins) / len(margins)


def reward_accuracy(path: str, pairs: list[dict]) -> float:
    """Share of pairs whose chosen reply the reward model scores above the rejected one."""
    from medbench.train.models import score_replies

    wins = 0
    for p in pairs:
        chosen, rejected = score_replies(
            path, p["prompt"], [p["chosen"][0]["content"], p["rejected"][0]["content"]]
        )
        wins += chosen > rejected
    return wins / len(pairs)
