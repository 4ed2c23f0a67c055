"""The offline model under test: a byte-level BPE tokenizer and a tiny LLaMA-architecture model.

There is no model hub here, so tests and ``medbench demo`` build their own model in seconds from the
Chinese medical text medbench ships. It is a real ``transformers`` checkpoint folder, loaded by the
same code path as any user model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from medbench.core.paths import RESOURCES_DIR, SAMPLES_DIR

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>"]
# A minimal chat template so chat-mode code paths work on the tiny model too; like Qwen3's, it has a
# thinking switch: enable_thinking=False closes an empty thinking block in the prompt.
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ '<s>' + m['role'] + '\n' + m['content'] + '</s>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<s>assistant\n' }}"
    "{% if enable_thinking is defined and not enable_thinking %}{{ '<think>\n\n</think>\n\n' }}{% endif %}"
    "{% endif %}"
)


@dataclass
class TinyConfig:
    """Shape of the tiny model; small enough to run a 5-shot benchmark on 2 CPU cores."""

    vocab_size: int = 600
    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 8192
    seed: int = 0


#: the bundled samples the tokenizer learns from: a fixed list, so that bundling another sample never
#: changes the tiny model (every golden file and measured figure in the docs rests on it)
TOKENIZER_SAMPLES = ("ceval", "cmexam", "cmmlu", "huatuo26m", "medqa_mcmle")


def training_texts() -> list[str]:
    """The shipped corpus plus those bundled sample items, so the tokenizer has seen exam wording."""
    texts = [(RESOURCES_DIR / "corpus_zh.txt").read_text(encoding="utf-8")]
    files = sorted(p for name in TOKENIZER_SAMPLES for p in (SAMPLES_DIR / name).rglob("*") if p.is_file())
    texts += [p.read_text(encoding="utf-8") for p in files]
    return texts


def fingerprint_inputs(config: TinyConfig | None = None) -> str:
    """A short hash of everything the tiny model is built from (shape, seed, training texts)."""
    digest = hashlib.sha256(json.dumps(asdict(config or TinyConfig()), sort_keys=True).encode())
    digest.update(CHAT_TEMPLATE.encode("utf-8"))
    for text in training_texts():
        digest.update(text.encode("utf-8"))
    return digest.hexdigest()[:12]


def train_tokenizer(vocab_size: int):
    """A byte-level BPE tokenizer (``tokenizers``) wrapped for ``transformers``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(training_texts(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_model(out_dir: str | Path, config: TinyConfig | None = None) -> Path:
    """Write a tokenizer and a randomly initialised (seeded) tiny LLaMA model to ``out_dir``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = config or TinyConfig()
    out = Path(out_dir)
    tokenizer = train_tokenizer(config.vocab_size)
    torch.manual_seed(config.seed)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=config.hidden_size,
            intermediate_size=config.intermediate_size,
            num_hidden_layers=config.num_hidden_layers,
            num_attention_heads=config.num_attention_heads,
            num_key_value_heads=config.num_key_value_heads,
            max_position_embeddings=config.max_position_embeddings,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            tie_word_embeddings=True,
        )
    )
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    from medbench.config.schemas import ModelCard

    card = ModelCard(builder="medbench.models.tiny", stage="init", config=asdict(config)).record()
    (out / "medbench_model_card.json").write_text(json.dumps(card, indent=2), encoding="utf-8")
    return out
