"""``hf``: lm-eval's Hugging Face model, every request through ``transformers`` on this machine."""

from __future__ import annotations

import re
from dataclasses import dataclass

from medbench.backends.base import BackendConfig, Capabilities, NoiseByDtype, at_least, option
from medbench.core.errors import MedbenchError

DTYPES = ("auto", "bfloat16", "float16", "float32")

#: the devices lm-eval's Hugging Face model places itself on; any other name it silently replaces with
#: cuda or cpu, so the run would not be on the device its config.json records
DEVICE = re.compile(r"cpu|cuda(:\d+)?|mps(:0)?")


def default_device() -> str:
    """The GPU when PyTorch sees one, else the CPU: a user on a GPU machine should not have to say so."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass
class HFConfig(NoiseByDtype, BackendConfig):
    name = "hf"
    summary = "lm-eval's Hugging Face model (transformers on this machine)"
    capabilities = Capabilities(loglik=True, generate=True, local=True)
    requires = ("torch", "transformers")
    extra = "hf"

    device: str | None = option(None, "cpu, cuda, cuda:0 (default: cuda if PyTorch sees a GPU, else cpu)")
    batch_size: int | str = option(
        8,
        "requests per forward pass, or auto (the largest that fits; auto:N re-tries N times); "
        "hf-fast fills each batch of questions after a shared prefix to the same memory",
    )
    dtype: str = option(
        "auto", "weights' dtype: auto (the checkpoint's), bfloat16, float16, float32", answer=True
    )

    def validate(self) -> None:
        if isinstance(self.batch_size, str):
            if not re.fullmatch(r"auto(:\d+)?", self.batch_size):
                raise MedbenchError(f"--batch-size must be a number or auto (got {self.batch_size})")
        else:
            at_least(self.batch_size, 1, "--batch-size", "at least 1")
        if self.dtype not in DTYPES:
            raise MedbenchError(f"--dtype must be one of {', '.join(DTYPES)} (got {self.dtype})")
        if self.device is not None and not DEVICE.fullmatch(self.device):
            raise MedbenchError(f"--device must be cpu, cuda, cuda:N, mps or mps:0 (got {self.device})")
        if self.device and self.device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise MedbenchError(
                    f"--device {self.device}: PyTorch sees no CUDA GPU on this machine (use --device cpu)"
                )
            index = int(self.device.partition(":")[2] or 0)
            if index >= torch.cuda.device_count():
                raise MedbenchError(
                    f"--device {self.device}: PyTorch sees {torch.cuda.device_count()} CUDA GPU(s) "
                    f"(cuda:0 to cuda:{torch.cuda.device_count() - 1})"
                )

    def resolve(self) -> None:
        self.device = self.device or default_device()

    def model_class(self):
        from medbench.backends._whole_chars import WholeCharsHFLM

        return WholeCharsHFLM

    def make_lm(self, model: str, seed: int):
        device = self.device or default_device()
        lm = self.model_class()(pretrained=model, device=device, batch_size=self.batch_size, dtype=self.dtype)
        loaded = getattr(getattr(lm, "model", None), "dtype", None)  # auto: the checkpoint's
        self.loaded_dtype = str(loaded).removeprefix("torch.") if loaded is not None else None
        return lm


BACKEND = HFConfig
