"""``vllm-server``: a running vLLM server (``vllm serve``), multiple choice scored by log-likelihood with
one request per question (see :mod:`medbench.backends._server_lm`), generation through the same
server. ``--base-url`` given several times: replicas of the model, routed by prefix, with failover
(:mod:`medbench.backends._replicas`). The API key, if the server wants one, comes from
``OPENAI_API_KEY``."""

from __future__ import annotations

from dataclasses import dataclass

from medbench.backends.base import Capabilities, option
from medbench.backends.openai_api import OpenAIConfig


@dataclass
class VLLMServerConfig(OpenAIConfig):
    name = "vllm-server"
    summary = "a vLLM server's completions API: log-likelihood multiple choice, one request per question"
    capabilities = Capabilities(loglik=True, generate=True, local=False, chat_api=False)
    replicas = True

    tokenizer: str | None = option(None, "the model's tokenizer (path or hub id; default: the served model)")

    def identity(self, model: str) -> tuple[str, dict]:
        name, fingerprint = super().identity(model)
        return name, {**fingerprint, "api": self.urls(), "protocol": "completions"}

    def make_lm(self, model: str, seed: int):
        from medbench.backends._server_lm import ServerLM

        return ServerLM(
            urls=self.urls(),
            model=model,
            tokenizer=self.tokenizer or model,
            concurrency=self.concurrency,
            max_retries=self.max_retries,
            timeout=self.timeout,
        )


BACKEND = VLLMServerConfig
