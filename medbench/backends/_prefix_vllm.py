"""vLLM for few-shot multiple choice: one request per question, so vLLM's prefix cache applies.

lm-eval's ``vllm`` model scores every option as its own request over context + option with
``prompt_logprobs``, and vLLM never reads its prefix cache for a request that asks for prompt
logprobs (lm-eval issue #2418): each of the four options of each question runs the whole 5-shot
block again. Here the requests whose continuation is one token are grouped by context, and each
distinct context is sent once as a one-token greedy generation whose ``logprob_token_ids`` are its
options' tokens. vLLM returns those as raw log-softmax values over the whole vocabulary at the
context's last position -- the number ``prompt_logprobs`` gives for that token -- and the greedy
token tells whether an option is the model's top choice. One question per subject goes first, so
its few-shot block is in the prefix cache before the subject's other questions are scheduled.
Everything else (multi-token continuations, contexts that would be truncated, a vLLM without
``logprob_token_ids``) goes through lm-eval's plain path unchanged.
"""

from __future__ import annotations

import logging

from lm_eval.api.registry import register_model
from vllm import SamplingParams

from medbench.backends._prefixes import prefix_groups, single_token_requests
from medbench.core._compat import lm_eval_vllm

log = logging.getLogger(__name__)
VLLM = lm_eval_vllm()

# logprobs of exactly the listed tokens, normalised over the full vocabulary (in vLLM 0.24 and 0.29,
# the versions this ran on; older releases lack it)
HAS_TOKEN_LOGPROBS = "logprob_token_ids" in getattr(SamplingParams, "__struct_fields__", ())


def _value(logprob) -> float:
    return float(getattr(logprob, "logprob", logprob))


@register_model("medbench-vllm")
class PrefixCachedVLLM(VLLM):
    """lm-eval's ``vllm`` model scoring single-token continuations with one cached request each."""

    def __init__(self, *args, enable_prefix_caching: bool = True, **kwargs) -> None:
        super().__init__(*args, enable_prefix_caching=enable_prefix_caching, **kwargs)
        self.tokens_forwarded = 0  # prompt positions vLLM computed (its cache hits excluded)
        self.requests_sent = 0
        self.prefix_cached = True  # False: lm-eval's own scoring (see reference_loglikelihood)
        if not HAS_TOKEN_LOGPROBS:
            log.warning(
                "this vLLM has no SamplingParams.logprob_token_ids: every request takes lm-eval's path"
            )

    def _score_contexts(self, options: dict[tuple[int, ...], list[int]]) -> dict[tuple[int, ...], tuple]:
        """(log-probabilities of the options, greedy token) for each context, one request each.

        The first context of every prefix group is sent alone first: vLLM caches a prompt's blocks
        once it has computed them, so the rest of the group then reads the shared prefix from cache.
        """
        contexts = list(options)
        groups = prefix_groups(contexts)
        leaders = [members[0] for _, members in groups]
        followers = [m for _, members in groups for m in members[1:]]
        scored: dict[tuple[int, ...], tuple] = {}
        for wave in (leaders, followers):
            if not wave:
                continue
            prompts = [list(contexts[i]) for i in wave]
            params = [
                SamplingParams(
                    max_tokens=1, temperature=0.0, logprob_token_ids=options[contexts[i]], detokenize=False
                )
                for i in wave
            ]
            outputs = self._model_generate(requests=prompts, generate=True, sampling_params=params)
            for i, out in zip(wave, outputs, strict=True):
                sample = out.outputs[0]
                logprobs = {token: _value(lp) for token, lp in sample.logprobs[0].items()}
                scored[contexts[i]] = (logprobs, sample.token_ids[0])
                self.tokens_forwarded += len(out.prompt_token_ids) - (out.num_cached_tokens or 0)
            self.requests_sent += len(wave)
        return scored

    def reference_loglikelihood(self, instances) -> list[tuple[float, bool]]:
        """lm-eval's own vLLM scoring on this engine (one prompt-logprobs request per option): what
        the fast path is checked and timed against."""
        self.prefix_cached = False
        try:
            return self.loglikelihood(instances)
        finally:
            self.prefix_cached = True

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False):
        if not self.prefix_cached:
            return super()._loglikelihood_tokens(requests, disable_tqdm)
        # lm-eval keeps one position for generation; a context this short is never truncated
        fast = single_token_requests(requests, max_context=self.max_length - 2) if HAS_TOKEN_LOGPROBS else []
        options: dict[tuple[int, ...], list[int]] = {}
        for k in fast:
            _, ctx, cont = requests[k]
            tokens = options.setdefault(tuple(ctx), [])
            if cont[0] not in tokens:
                tokens.append(cont[0])
        scored = self._score_contexts(options) if options else {}
        results: dict[int, tuple[float, bool]] = {}
        for k in fast:
            cache_key, ctx, cont = requests[k]
            logprobs, greedy = scored[tuple(ctx)]
            answer = (logprobs[cont[0]], greedy == cont[0])
            results[k] = answer
            if cache_key is not None:
                self.cache_hook.add_partial("loglikelihood", cache_key, answer)
        rest = [k for k in range(len(requests)) if k not in results]
        if rest:
            plain = super()._loglikelihood_tokens([requests[k] for k in rest], disable_tqdm)
            results.update(zip(rest, plain, strict=True))
            # prompt-logprob requests never read the prefix cache: every position is computed
            self.tokens_forwarded += sum(
                min(len(requests[k][1]) + len(requests[k][2]), self.max_length - 1) for k in rest
            )
            self.requests_sent += len(rest)
        return [results[k] for k in range(len(requests))]
