"""``hf-fast``: ``hf`` with the few-shot prefix shared by a subject's questions computed once (same
predictions; see :mod:`medbench.backends._prefix_hf`)."""

from __future__ import annotations

from dataclasses import dataclass

from medbench.backends.hf import HFConfig, default_device


@dataclass
class HFFastConfig(HFConfig):
    name = "hf-fast"
    summary = "hf with each shared few-shot prefix computed once (same predictions as hf)"

    def make_lm(self, model: str, seed: int):
        from medbench.backends._prefix_hf import PrefixCachedHFLM

        device = self.device or default_device()
        return PrefixCachedHFLM(pretrained=model, device=device, batch_size=self.batch_size)


BACKEND = HFFastConfig
