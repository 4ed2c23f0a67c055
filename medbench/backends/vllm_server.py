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

    tokenizer: str | None = option(
        None, "the model's tokenizer (path or hub id; default: the served model)", answer=True
    )

    def identity(self, model: str) -> tuple[str, dict]:
        """The served model as its replicas describe it: an unreachable replica is left to the
        failover (:mod:`medbench.backends._replicas`); replicas that serve different models, or none
        that answers, is one line. Replicas whose listing does not identify the model
        (:func:`medbench.models.served.pinned`) are keyed on every address given."""
        from medbench.core.errors import MedbenchError
        from medbench.models.served import Unreachable, served_model

        name = self.model_name or model
        described, unreachable = {}, []
        for url in self.urls():
            try:
                described[url] = served_model(url, name, min(self.timeout, 30.0))
            except Unreachable as exc:
                unreachable.append(str(exc))
        if not described:
            raise MedbenchError(unreachable[0])
        listed = {url: {k: v for k, v in d.items() if k != "server"} for url, d in described.items()}
        if len({repr(sorted(d.items())) for d in listed.values()}) > 1:
            shown = "; ".join(f"{url}: {d}" for url, d in listed.items())
            raise MedbenchError(f"the replicas serve different models under the name {name!r} ({shown})")
        served = next(iter(described.values()))
        if "server" in served:
            served = {**served, "server": self.urls()}
        return name, {"api": self.urls(), "model_name": name, "served": served, "protocol": "completions"}

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
