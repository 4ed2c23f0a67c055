"""Running one training stage with TRL, and leaving a model folder ``medbench run`` evaluates directly.

Each stage writes its output folder with the model, tokenizer and ``medbench_model_card.json``
(recipe, stage, base model, data fingerprints, steps, final losses, the resolved configuration).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from pathlib import Path

import datasets

from medbench.datasources import sha256_file
from medbench.errors import MedbenchError
from medbench.paths import plugin_dir
from medbench.train import data as train_data
from medbench.train.config import (
    Recipe,
    RejectionSamplingConfig,
    StageConfig,
    effective_batch_size,
    resolve_model_ref,
)

log = logging.getLogger("medbench")


def _peft_config(config: StageConfig, task_type: str = "CAUSAL_LM"):
    if not config.lora:
        return None
    from peft import LoraConfig

    options = {k: v for k, v in config.lora.items() if k != "qlora"}
    options.setdefault("target_modules", "all-linear")
    return LoraConfig(task_type=task_type, **options)


def _quantization(config: StageConfig):
    if not (config.lora and config.lora.get("qlora")):
        return None
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4")


TRL_CONFIGS = {
    "pretrain": "SFTConfig",
    "sft": "SFTConfig",
    "rejection_sampling": "SFTConfig",
    "reward": "RewardConfig",
    "dpo": "DPOConfig",
    "rl": "GRPOConfig",
}


def check_training_keys(stage: str, config: StageConfig) -> str:
    """Reject ``training:`` keys the stage's TRL config does not have (no GPU or DeepSpeed needed)."""
    import trl

    cls = getattr(trl, TRL_CONFIGS[stage])
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(config.training) - known)
    if unknown:
        raise MedbenchError(f"stage {stage}: {cls.__name__} has no option(s) {', '.join(unknown)}")
    return cls.__name__


def _shipped(value):
    """``trainers/deepspeed_zero2.json`` resolves to the shipped copy wherever medbench is installed."""
    if isinstance(value, str) and value.startswith("trainers/"):
        return str(plugin_dir("trainers") / value.removeprefix("trainers/"))
    return value


def trl_args(stage: str, config: StageConfig, seed: int = 42):
    """The TRL config object of the stage, from the recipe's ``training:`` block."""
    from trl import DPOConfig, GRPOConfig, RewardConfig, SFTConfig

    check_training_keys(stage, config)
    training = {k: _shipped(v) for k, v in config.training.items()}
    common = {
        "output_dir": config.output_dir,
        "report_to": [],
        "save_strategy": "no",
        "seed": seed,
        "logging_steps": 1,
        "use_cpu": _cpu_only(),
        **training,
    }
    if stage == "pretrain":
        return SFTConfig(
            dataset_text_field="text",
            packing=True,
            max_length=config.block_size,
            completion_only_loss=False,
            **common,
        )
    if stage in ("sft", "rejection_sampling"):
        return SFTConfig(max_length=config.max_length, packing=getattr(config, "packing", False), **common)
    if stage == "reward":
        return RewardConfig(max_length=config.max_length, **common)
    if stage == "dpo":
        return DPOConfig(beta=config.beta, max_length=config.max_length, **common)
    if stage == "rl":
        return GRPOConfig(
            num_generations=config.num_generations,
            max_completion_length=config.max_completion_length,
            **common,
        )
    raise MedbenchError(f"unknown stage '{stage}'")


def _cpu_only() -> bool:
    import torch

    return not torch.cuda.is_available()


def _load_causal(path: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return AutoModelForCausalLM.from_pretrained(path), tokenizer


def _card(config: StageConfig, stage: str, recipe: Recipe, base: str, files: list[Path], trainer) -> dict:
    history = trainer.state.log_history if trainer else []
    losses = [h["loss"] for h in history if "loss" in h]
    return {
        "builder": "medbench.train",
        "recipe": recipe.name,
        "recipe_file": recipe.source,
        "stage": stage,
        "base_model": base,
        "data_sha256": {str(f): sha256_file(f) for f in files},
        "steps": trainer.state.global_step if trainer else 0,
        "first_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None,
        "train_loss": next((h["train_loss"] for h in reversed(history) if "train_loss" in h), None),
        "effective_batch_size": effective_batch_size(config),
        "config": dataclasses.asdict(config),
    }


def _finish(
    trainer, tokenizer, config: StageConfig, stage: str, recipe: Recipe, base: str, files: list[Path]
) -> dict:
    out = Path(config.output_dir)
    model = trainer.model
    if hasattr(model, "merge_and_unload"):  # LoRA: ship a plain checkpoint that `medbench run` loads
        model = model.merge_and_unload()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    card = _card(config, stage, recipe, base, files, trainer)
    if config.eval_data:
        card["heldout"] = heldout_evidence(stage, config.eval_data, base, str(out))
        files.append(train_data.data_path(config.eval_data))
        card["data_sha256"] = {str(f): sha256_file(f) for f in files}
    (out / "medbench_model_card.json").write_text(
        json.dumps(card, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return card


def heldout_evidence(stage: str, spec: str, before: str, after: str) -> dict:
    """The stage's held-out measurement on the input model and on the trained one."""
    from medbench.train import evidence

    checks = {  # stage -> (metric, which way is better, held-out data reader, measurement)
        "pretrain": ("perplexity", "lower", train_data.texts, evidence.perplexity),
        "sft": ("reference_loglik", "higher", train_data.sft_examples, evidence.response_loglik),
        "reward": ("pair_accuracy", "higher", train_data.preference_pairs, evidence.reward_accuracy),
        "dpo": (
            "chosen_minus_rejected_logprob",
            "higher",
            train_data.preference_pairs,
            evidence.preference_margin,
        ),
    }
    if stage not in checks:
        return {}
    metric, better, read, measure = checks[stage]
    data = read(spec)
    # a fresh reward head has no meaningful score: chance (0.5) is its baseline
    first = 0.5 if stage == "reward" else measure(before, data)
    return {"metric": metric, "better": better, "before": first, "after": measure(after, data)}


def _load_reward(base: str):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
    model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def _rows(stage: str, config: StageConfig) -> list[dict]:
    """The stage's training data in TRL's format."""
    if stage == "pretrain":
        return [{"text": t} for t in train_data.texts(config.data)]
    if stage == "sft":
        return train_data.sft_examples(config.data)
    return train_data.preference_pairs(config.data, getattr(config, "pairing", "adjacent"))


def _trainer(
    trainer_cls, model, tokenizer, args, rows: list[dict], config: StageConfig, task_type="CAUSAL_LM"
):
    return trainer_cls(
        model=model,
        args=args,
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=_peft_config(config, task_type),
    )


def run_stage(stage: str, config: StageConfig, recipe: Recipe) -> dict:
    """Train one stage; returns its model card."""
    from trl import DPOTrainer, RewardTrainer, SFTTrainer

    base = resolve_model_ref(config.model, recipe)
    args = trl_args(stage, config)
    if stage == "rejection_sampling":
        return rejection_sampling(config, recipe, base, args)
    if stage == "rl":
        return reinforce(config, recipe, base, args)
    if stage == "reward":
        model, tokenizer = _load_reward(base)
        trainer = _trainer(RewardTrainer, model, tokenizer, args, _rows(stage, config), config, "SEQ_CLS")
    else:
        model, tokenizer = _load_causal(base)
        trainer_cls = DPOTrainer if stage == "dpo" else SFTTrainer
        trainer = _trainer(trainer_cls, model, tokenizer, args, _rows(stage, config), config)
    trainer.train()
    return _finish(trainer, tokenizer, config, stage, recipe, base, [train_data.data_path(config.data)])


@functools.lru_cache(maxsize=2)
def _reward_model(path: str):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    return AutoModelForSequenceClassification.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(
        path
    )


def score_replies(reward_path: str, prompt: list[dict], replies: list[str]) -> list[float]:
    """Reward-model scores of replies to one prompt (chat template, as the reward stage trained)."""
    import torch

    model, tokenizer = _reward_model(reward_path)
    texts = [
        tokenizer.apply_chat_template([*prompt, {"role": "assistant", "content": r}], tokenize=False)
        for r in replies
    ]
    scores = []
    with torch.no_grad():
        for text in texts:
            ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)
            scores.append(float(model(**ids).logits[0, 0]))
    return scores


def sample_replies(
    model, tokenizer, prompt: list[dict], n: int, max_new_tokens: int, temperature: float
) -> list[str]:
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
    return [
        tokenizer.decode(seq[ids["input_ids"].shape[1] :], skip_special_tokens=True).strip() for seq in out
    ]


def select_top(replies: list[str], scores: list[float], k: int) -> list[str]:
    """The k highest-reward replies (ties keep sampling order); empty replies never qualify."""
    ranked = sorted((i for i, r in enumerate(replies) if r.strip()), key=lambda i: -scores[i])
    return [replies[i] for i in ranked[:k]]


def rejection_sampling(config: RejectionSamplingConfig, recipe: Recipe, base: str, args) -> dict:
    """ChiMed-GPT's rejection sampling: the policy's best-scored replies become SFT data."""
    from trl import SFTTrainer

    reward_path = resolve_model_ref(config.reward_model, recipe)
    model, tokenizer = _load_causal(base)
    chosen: list[dict] = []
    selections = []
    for prompt in train_data.prompts(config.data):
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
    trainer = _trainer(SFTTrainer, model, tokenizer, args, chosen, config)
    trainer.train()
    return _finish(
        trainer, tokenizer, config, "rejection_sampling", recipe, base, [train_data.data_path(config.data)]
    )


def reinforce(config, recipe: Recipe, base: str, args) -> dict:
    """Online RL (GRPO) with the trained reward model as the reward function."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import GRPOTrainer

    reward_path = resolve_model_ref(config.reward_model, recipe)
    reward_model = AutoModelForSequenceClassification.from_pretrained(reward_path, num_labels=1)
    reward_tokenizer = AutoTokenizer.from_pretrained(reward_path)
    model, tokenizer = _load_causal(base)
    dataset = datasets.Dataset.from_list([{"prompt": p} for p in train_data.prompts(config.data)])
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=reward_model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        reward_processing_classes=reward_tokenizer,
        peft_config=_peft_config(config),
    )
    trainer.train()
    return _finish(trainer, tokenizer, config, "rl", recipe, base, [train_data.data_path(config.data)])
