"""Scoring against a running vLLM server (``vllm serve``) through its OpenAI-compatible completions API.

Multiple choice: lm-eval's ``local-completions`` sends one echo request per option (context + option,
prompt log-probabilities), which vLLM never serves from its prefix cache. Here the requests whose
continuation is one token are grouped by context, and each distinct context is sent once as a
one-token greedy completion with ``logprob_token_ids`` = its options' tokens (vLLM >= 0.24; the
field returns the raw log-softmax of exactly those tokens at the answer position) and
``return_tokens_as_token_ids``: the option log-likelihoods, and the greedy token says which option is
the model's top choice. The shared few-shot block is then a plain prompt prefix, so the server's
automatic prefix cache serves it. Anything else (a multi-token continuation) is one echo request
with prompt log-probabilities, as lm-eval does, and counted. Tokenisation is lm-eval's (the model's
tokenizer, loaded here), so the numbers are the ones local scoring gives. With several replicas
(``--base-url`` given several times) requests are routed by prefix and fail over between replicas:
see :mod:`medbench.backends._replicas`.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from lm_eval.api.model import TemplateLM
from tqdm import tqdm
from transformers import AutoTokenizer

from medbench.backends._replicas import ReplicaPool
from medbench.core.errors import MedbenchError
from medbench.models import chatcall


class ServerLM(TemplateLM):
    """lm-eval ``LM`` over a vLLM server's ``/v1/completions``."""

    def __init__(
        self, urls: list[str], model: str, tokenizer: str, concurrency: int, max_retries: int, timeout: float
    ):
        super().__init__()
        self.model, self.max_retries = model, max_retries
        self.pool = ReplicaPool(urls, concurrency, max_retries, timeout)
        self.tokenizer = AutoTokenizer.from_pretrained(tokenizer)
        self.usage = chatcall.Usage()
        self.requests_by_kind: dict[str, int] = defaultdict(int)  # one-token | echo | generate

    @property
    def eot_token_id(self) -> int:
        return self.tokenizer.eos_token_id

    def tok_encode(self, string: str, add_special_tokens: bool | None = None, **kwargs) -> list[int]:
        return self.tokenizer.encode(string, add_special_tokens=bool(add_special_tokens))

    async def _post(self, replica: int, body: dict):
        """One completion on its planned replica (or another, when that one is unreachable); a request
        that still fails after the client's retries stops the run in one line (every finished
        request is already in the request cache, so a re-run resumes)."""
        try:
            reply = await self.pool.call(replica, lambda client: client.completions.create(**body))
        except MedbenchError:
            raise
        except Exception as exc:
            raise MedbenchError(
                f"vllm-server: a request failed after {self.max_retries} retries "
                f"({chatcall.describe(exc)}); finished requests are cached, re-run the command"
            ) from None
        self.usage.requests += 1
        usage = getattr(reply, "usage", None)
        self.usage.prompt_tokens += getattr(usage, "prompt_tokens", 0) or 0
        self.usage.completion_tokens += getattr(usage, "completion_tokens", 0) or 0
        if not getattr(reply, "choices", None):
            raise MedbenchError("vllm-server: a completion without choices")
        return reply.choices[0]

    async def _one_token(self, replica: int, context: list[int], options: list[int]) -> dict[int, tuple]:
        """(log-likelihood, is_greedy) of each one-token option after ``context``: one request."""
        self.requests_by_kind["one-token"] += 1
        body = {
            "model": self.model,
            "prompt": context,
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": 1,
            "extra_body": {"logprob_token_ids": sorted(set(options)), "return_tokens_as_token_ids": True},
        }
        choice = await self._post(replica, body)
        step = choice.logprobs.top_logprobs[0]
        greedy = choice.logprobs.tokens[0]
        out = {}
        for token in options:
            key = f"token_id:{token}"
            if key not in step:
                raise MedbenchError(
                    f"vllm-server: no log-probability for token {token}: the server ignores "
                    "logprob_token_ids (vLLM 0.29 has it in its completions API)"
                )
            out[token] = (float(step[key]), greedy == key)
        return out

    async def _echo(self, replica: int, context: list[int], continuation: list[int]) -> tuple[float, bool]:
        """The fallback for a longer continuation: prompt log-probabilities of context + continuation."""
        self.requests_by_kind["echo"] += 1
        body = {
            "model": self.model,
            "prompt": context + continuation,
            "max_tokens": 0,
            "echo": True,
            "logprobs": 1,
            "temperature": 0.0,
            "extra_body": {"return_tokens_as_token_ids": True},
        }
        choice = await self._post(replica, body)
        logprobs = choice.logprobs
        positions = range(len(context), len(context) + len(continuation))
        total, greedy = 0.0, True
        for position, token in zip(positions, continuation, strict=True):
            total += float(logprobs.token_logprobs[position])
            top = logprobs.top_logprobs[position] or {}
            best = max(top, key=top.get) if top else None
            greedy = greedy and best == f"token_id:{token}"
        return total, greedy

    async def _prompt_logprobs(self, replica: int, tokens: list[int]) -> list[float]:
        """Each token's log-probability after the tokens before it (the first has none): one echo
        request."""
        self.requests_by_kind["echo"] += 1
        body = {
            "model": self.model,
            "prompt": tokens,
            "max_tokens": 0,
            "echo": True,
            "logprobs": 0,
            "temperature": 0.0,
        }
        values = (await self._post(replica, body)).logprobs.token_logprobs
        if values is None or len(values) != len(tokens):
            raise MedbenchError("vllm-server: an echo reply without one log-probability per prompt token")
        return [float(v) for v in values[1:]]

    def token_logprobs(self, sequences: list[list[int]]) -> list[list[float]]:
        """Per-token log-probabilities of whole sequences (the Min-K% probe:
        :mod:`medbench.models.tokenprobs`)."""

        async def every() -> list[list[float]]:
            plan = self.pool.plan(sequences)
            self.pool.open()
            try:
                return await asyncio.gather(
                    *(self._prompt_logprobs(r, s) for r, s in zip(plan, sequences, strict=True))
                )
            finally:
                await self.pool.close()

        return asyncio.run(every())

    async def _score(self, requests) -> list[tuple[float, bool]]:
        groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
        fallback = []
        for k, (_, context, continuation) in enumerate(requests):
            (groups[tuple(context)] if len(continuation) == 1 else fallback).append(k)
        contexts = list(groups)
        plan = self.pool.plan(contexts + [requests[k][1] for k in fallback])
        results: list = [None] * len(requests)
        bar = tqdm(total=len(requests), desc="Completions (log-likelihood)")

        def done(k: int, result: tuple[float, bool]) -> None:
            results[k] = result
            if requests[k][0] is not None:  # cached as it arrives: an interrupted run keeps it
                self.cache_hook.add_partial("loglikelihood", requests[k][0], result)
            bar.update(1)

        async def group(replica: int, context: tuple[int, ...]) -> None:
            members = groups[context]
            scores = await self._one_token(replica, list(context), [requests[k][2][0] for k in members])
            for k in members:
                done(k, scores[requests[k][2][0]])

        async def echo(replica: int, k: int) -> None:
            done(k, await self._echo(replica, list(requests[k][1]), list(requests[k][2])))

        self.pool.open()
        try:
            await asyncio.gather(
                *(group(r, c) for r, c in zip(plan, contexts, strict=False)),
                *(echo(r, k) for r, k in zip(plan[len(contexts) :], fallback, strict=True)),
            )
        finally:
            bar.close()
            await self.pool.close()
        return results

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, **kwargs):
        return asyncio.run(self._score(requests))

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        raise MedbenchError("the vllm-server backend does not score rolling log-likelihoods")

    async def _generate(self, requests) -> list[str]:
        async def one(replica: int, request) -> str:
            context, kwargs = request.args
            self.requests_by_kind["generate"] += 1
            body = {
                "model": self.model,
                "prompt": context,
                "max_tokens": int(kwargs.get("max_gen_toks", 256)),
                "temperature": float(kwargs.get("temperature", 1.0)) if kwargs.get("do_sample") else 0.0,
            }
            if kwargs.get("do_sample") and "top_p" in kwargs:
                body["top_p"] = float(kwargs["top_p"])
            if kwargs.get("until"):
                body["stop"] = list(kwargs["until"])[:4]
            text = (await self._post(replica, body)).text or ""
            self.cache_hook.add_partial("generate_until", request.args, text)
            return text

        plan = self.pool.plan([r.args[0] for r in requests])
        self.pool.open()
        try:
            return await asyncio.gather(*(one(p, r) for p, r in zip(plan, requests, strict=True)))
        finally:
            await self.pool.close()

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        return asyncio.run(self._generate(requests))
