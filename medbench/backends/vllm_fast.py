"""``vllm-fast``: ``vllm`` with one request per multiple-choice question, so vLLM's prefix cache applies
(same predictions; see :mod:`medbench.backends._prefix_vllm`)."""

from __future__ import annotations

from dataclasses import dataclass

from medbench.backends.vllm_engine import VLLMConfig


@dataclass
class VLLMFastConfig(VLLMConfig):
    name = "vllm-fast"
    summary = "vllm with one request per question, so its prefix cache applies (same predictions)"

    def _model_class(self):
        from medbench.backends._prefix_vllm import PrefixCachedVLLM

        return PrefixCachedVLLM


BACKEND = VLLMFastConfig
