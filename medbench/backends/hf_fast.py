"""``hf-fast``: ``hf`` with the few-shot prefix shared by a subject's questions computed once (same
predictions; see :mod:`medbench.backends._prefix_hf`)."""

from __future__ import annotations

from dataclasses import dataclass

from medbench.backends.hf import HFConfig


@dataclass
class HFFastConfig(HFConfig):
    name = "hf-fast"
    summary = "hf with each shared few-shot prefix computed once (same predictions as hf)"

    def model_class(self):
        from medbench.backends._prefix_hf import PrefixCachedHFLM

        return PrefixCachedHFLM


BACKEND = HFFastConfig
