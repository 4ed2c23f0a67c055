"""An OpenAI-compatible chat-completions backend (GPT-4, vLLM's server, ``transformers serve``, ...).

Requests run concurrently (``concurrency`` at a time). The ``openai`` client retries 408/409/429/5xx
answers, timeouts and dropped connections with exponential backoff (``max_retries``), and
:mod:`medbench.models.chatcall` retries replies that are not chat completions. A request that still fails is
recorded in :attr:`OpenAIChatLM.failures` with its task and item and answered with a
:class:`~medbench.models.requestcache.FailedReply`: the run finishes, every success is cached, no failure is
(the runner leaves failed items out of the scores and marks the run incomplete), and re-running the
same command asks again only for the failed items. The API key comes from ``OPENAI_API_KEY`` and is
never written out.
"""

from __future__ import annotations

import asyncio

from lm_eval.api.model import LM
from tqdm import tqdm

from medbench.core.errors import MedbenchError
from medbench.core.hooks import DEFAULT_TAGS
from medbench.models import chat, chatcall, thinking
from medbench.models.requestcache import FailedReply


def _truncate(text: str, stops: list[str], tags: tuple[str, str]) -> str:
    """Cut the answer at its first stop string (servers differ in how they honour ``stop``); a
    thinking block (between the model's ``tags``) before the answer is never cut."""
    start = thinking.answer_start(text, tags)
    if start is None:
        return text
    answer = text[start:]
    cut = min((answer.find(s) for s in stops if s and s in answer), default=-1)
    return text[:start] + (answer[:cut] if cut >= 0 else answer)


class OpenAIChatLM(LM):
    """lm-eval ``LM`` over ``/v1/chat/completions``; generation only."""

    def __init__(
        self,
        base_url: str,
        model: str,
        concurrency: int = 8,
        max_retries: int = 5,
        timeout: float = 120.0,
        max_reply_chars: int = chatcall.MAX_REPLY_CHARS,
    ) -> None:
        super().__init__()
        self.base_url, self.model = base_url, model
        self.concurrency, self.max_retries, self.timeout = concurrency, max_retries, timeout
        self.max_reply_chars = max_reply_chars
        self.usage = chatcall.Usage()
        self.chat_template_args: dict = {}  # sent as chat_template_kwargs (e.g. enable_thinking)
        self.think_tags = DEFAULT_TAGS  # the model's thinking tags: a run sets its --think-tags

    @property
    def failures(self) -> list[dict]:
        return self.usage.failures

    def loglikelihood(self, requests):
        raise MedbenchError(
            "the openai backend cannot score log-likelihoods; use a gen-mode task (--mode gen)"
        )

    def loglikelihood_rolling(self, requests):
        raise MedbenchError("the openai backend cannot score log-likelihoods")

    @property
    def tokenizer_name(self) -> str:
        return f"openai-chat:{self.model}"  # the server renders the template: the model names it

    def apply_chat_template(self, chat_history: list[dict], add_generation_prompt: bool = True) -> str:
        """``--chat``: the messages themselves are the prompt (the server applies its template)."""
        return chat.encode(chat_history)

    def _messages(self, request) -> list[dict]:
        rendered = chat.decode(request.args[0])
        if rendered is not None:  # --chat: lm-eval's messages (system, few-shot turns, question)
            return rendered
        doc = request.doc if isinstance(getattr(request, "doc", None), dict) else {}
        messages = doc.get("messages")
        if messages:  # dialogue tasks carry their turns as chat messages
            return [{"role": m["role"], "content": m["content"]} for m in messages]
        return [{"role": "user", "content": request.args[0]}]

    def _body(self, request) -> dict:
        kwargs = dict(request.args[1])
        until = kwargs.get("until") or []
        body = {
            "model": self.model,
            "messages": self._messages(request),
            "max_tokens": int(kwargs.get("max_gen_toks", 256)),
            "temperature": float(kwargs.get("temperature", 1.0)) if kwargs.get("do_sample") else 0.0,
        }
        if kwargs.get("do_sample") and "top_p" in kwargs:
            body["top_p"] = float(kwargs["top_p"])
        if until:
            body["stop"] = list(until)[:4]
        if self.chat_template_args:  # vLLM's and SGLang's extension of the chat API
            body["extra_body"] = {"chat_template_kwargs": dict(self.chat_template_args)}
        return body

    async def _all(self, requests, disable_tqdm: bool) -> list[str]:
        client = chatcall.client(self.base_url, self.max_retries, self.timeout)
        gate = asyncio.Semaphore(self.concurrency)
        bar = tqdm(total=len(requests), desc="Chat completions", disable=disable_tqdm)

        async def one(request) -> str:
            task, doc_id = (request.metadata or (None, None))[:2]
            async with gate:
                try:
                    reply = await chatcall.complete(
                        client, self._body(request), self.max_retries, self.max_reply_chars
                    )
                except Exception as exc:  # retried already; recorded, never cached, re-asked next run
                    error = chatcall.describe(exc)
                    self.usage.failures.append({"task": task, "doc_id": doc_id, "error": error})
                    return FailedReply(error)
                finally:
                    bar.update(1)
            self.usage.add(reply)
            if reply.truncated:
                self.usage.truncated.append({"task": task, "doc_id": doc_id, "kept_chars": len(reply.text)})
            text = thinking.tagged(reply.reasoning, reply.text, reply.cut_off, self.think_tags)  # kept
            text = _truncate(text, request.args[1].get("until") or [], self.think_tags)
            self.cache_hook.add_partial("generate_until", request.args, text)
            return text

        try:
            return await asyncio.gather(*(one(r) for r in requests))
        finally:
            bar.close()
            await client.close()

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        return asyncio.run(self._all(requests, disable_tqdm))
