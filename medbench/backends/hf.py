"""``hf``: lm-eval's Hugging Face model, every request through ``transformers`` on this machine."""

from __future__ import annotations

from dataclasses import dataclass

from medbench.backends.base import BackendConfig, Capabilities, at_least, option
from medbench.errors import MedbenchError


def default_device() -> str:
    """The GPU when PyTorch sees one, else the CPU: a user on a GPU machine should not have to say so."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass
class HFConfig(BackendConfig):
    name = "hf"
    summary = "lm-eval's Hugging Face model (transformers on this machine)"
    capabilities = Capabilities(loglik=True, generate=True, local=True)

    device: str | None = option(None, "cpu, cuda, cuda:0 (default: cuda if PyTorch sees a GPU, else cpu)")
    batch_size: int = option(8, "requests per forward pass")

    def validate(self) -> None:
        at_least(self.batch_size, 1, "--batch-size", "at least 1")
        if self.device and self.device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise MedbenchError(
                    f"--device {self.device}: PyTorch sees no CUDA GPU on this machine (use --device cpu)"
                )

    def resolve(self) -> None:
        self.device = self.device or default_device()

    def make_lm(self, model: str, seed: int):
        from lm_eval.models.huggingface import HFLM

        return HFLM(pretrained=model, device=self.device or default_device(), batch_size=self.batch_size)


BACKEND = HFConfig
