"""``openai``: any OpenAI-compatible chat-completions server (GPT-4, ``vllm serve``, ``transformers
serve``); generation only. The API key comes from ``OPENAI_API_KEY`` and is never written out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from pydantic import Field

from medbench.backends.base import BackendConfig, Capabilities, option
from medbench.core.errors import MedbenchError


@dataclass
class OpenAIConfig(BackendConfig):
    name = "openai"
    summary = "an OpenAI-compatible chat-completions server (generation only)"
    capabilities = Capabilities(loglik=False, generate=True, local=False, chat_api=True)

    base_url: str | None = option(
        None,
        "the server's base URL (e.g. http://127.0.0.1:8000/v1); vllm-server: one per replica",
        repeat=True,
    )
    model_name: str | None = option(None, "the model name the server knows (default: --model)")
    concurrency: Annotated[int, Field(ge=1)] = option(
        8, "requests in flight (vllm-server: per replica)", what="at least 1"
    )
    max_retries: Annotated[int, Field(ge=0)] = option(
        5, "retries on 429/5xx/timeouts/malformed replies", what="0 or more"
    )
    timeout: Annotated[float, Field(gt=0, allow_inf_nan=False)] = option(
        120.0, "seconds per request", what="a positive number of seconds"
    )
    max_reply_chars: Annotated[int, Field(ge=1)] = option(
        65536, "a longer reply is cut here (and says so)", answer=True, what="at least 1"
    )

    #: whether several ``--base-url`` (replicas of one model) are allowed
    replicas: ClassVar[bool] = False

    def urls(self) -> list[str]:
        """The base URLs given (``--base-url`` several times arrives comma-joined)."""
        return [u.strip() for u in (self.base_url or "").split(",") if u.strip()]

    def validate(self) -> None:
        if len(self.urls()) > 1 and not self.replicas:
            raise MedbenchError(
                f"backend {self.name} takes one --base-url (several replicas: --backend vllm-server)"
            )

    def identity(self, model: str) -> tuple[str, dict]:
        if not self.base_url:
            raise MedbenchError(
                "backend openai needs --base-url (an OpenAI-compatible server, e.g. http://host/v1)"
            )
        from medbench.models.served import served_model

        name = self.model_name or model
        served = served_model(self.urls()[0], name, min(self.timeout, 30.0))
        return name, {"api": self.base_url, "model_name": name, "served": served}

    def make_lm(self, model: str, seed: int):
        from medbench.backends._openai_chat import OpenAIChatLM

        return OpenAIChatLM(
            base_url=self.base_url,
            model=model,
            concurrency=self.concurrency,
            max_retries=self.max_retries,
            timeout=self.timeout,
            max_reply_chars=self.max_reply_chars,
        )


BACKEND = OpenAIConfig
