"""Generations as whole characters: lm-eval's ``hf`` model decodes a reply with the tokenizer, and a
byte-level tokenizer (GPT-2, LLaMA-3 and Qwen style, and our tiny model) turns bytes that make no
UTF-8 character -- a character cut by ``max_new_tokens`` or by the end-of-text token, or stray
continuation bytes -- into U+FFFD. Those bytes are no text a scorer or a reader can use, and the
replacement characters would count as characters in character-level ROUGE/BLEU and show as noise in
the sample browser, so they are dropped. (vLLM's detokenizer already holds back incomplete bytes.)
"""

from __future__ import annotations

from lm_eval.models.huggingface import HFLM

REPLACEMENT = "\ufffd"


def whole_characters(text: str) -> str:
    """``text`` without the replacement characters a decoder put where bytes formed no character."""
    return text.replace(REPLACEMENT, "")


class WholeCharsHFLM(HFLM):
    """lm-eval's ``hf`` model whose decoded replies hold whole characters only."""

    def tok_decode(self, tokens, skip_special_tokens: bool = True) -> str:
        return whole_characters(super().tok_decode(tokens, skip_special_tokens=skip_special_tokens))
