"""A faster local backend for few-shot multiple choice: compute the shared prefix once.

In 5-shot MC every question of a subject repeats the same few-shot block, and lm-eval's ``hf`` model
runs it through the network again for each question (its logits cache only merges the four option
letters of one question). Here the requests whose continuation is a single token are grouped by the
token prefix their contexts share: the prefix is run once (its KV cache kept), then only each
question's own tokens run on top of it, in batches, and each option is scored from the last
position's logits. Anything else -- multi-token continuations, contexts too long for the model, a
context that shares no prefix with another -- goes through the plain ``hf`` path unchanged, so the
predictions are the plain backend's.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from lm_eval.api.registry import register_model

from medbench.backends._prefixes import prefix_groups, single_token_requests
from medbench.backends._whole_chars import WholeCharsHFLM


@register_model("medbench-hf")
class PrefixCachedHFLM(WholeCharsHFLM):
    """lm-eval's ``hf`` model with shared-prefix KV caching for single-token continuations."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tokens_forwarded = 0  # real (non-padding) token positions run through the model

    def _score_group(self, prefix: list[int], suffixes: list[list[int]]) -> list[torch.Tensor]:
        """Log-softmax at each member's last context position, with the prefix computed once.

        Each member's own tokens run on top of the prefix's KV cache with no padding at all; the
        cache is cropped back to the prefix afterwards (or copied, for caches that cannot crop).
        """
        out: list[torch.Tensor] = []
        with torch.inference_mode():
            prefix_ids = torch.tensor([prefix], dtype=torch.long, device=self.device)
            # the prefix's own logits are never needed: keep one position (skips the vocabulary projection)
            cache = self.model(prefix_ids, use_cache=True, logits_to_keep=1).cache
            croppable = getattr(cache, "is_croppable", False)
            for suffix in suffixes:
                member_cache = cache if croppable else copy.deepcopy(cache)
                ids = torch.tensor([suffix], dtype=torch.long, device=self.device)
                logits = self.model(ids, cache=member_cache, use_cache=True, logits_to_keep=1).logits
                out.append(F.log_softmax(logits[0, -1].float(), dim=-1))
                if croppable:
                    cache.crop(-len(suffix))  # back to the prefix alone
        self.tokens_forwarded += len(prefix) + sum(len(x) for x in suffixes)
        return out

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, override_bs=None):
        fast = single_token_requests(requests, max_context=self.max_length - 1)
        contexts = sorted({tuple(requests[k][1]) for k in fast})
        index = {c: n for n, c in enumerate(contexts)}
        shared = [(length, members) for length, members in prefix_groups(contexts) if len(members) > 1]
        in_group = {m for _, members in shared for m in members}
        fast = [k for k in fast if index[tuple(requests[k][1])] in in_group]
        results: dict[int, tuple[float, bool]] = {}
        last_logprobs: dict[int, torch.Tensor] = {}
        for length, members in shared:
            prefix = list(contexts[members[0]][:length])
            scored = self._score_group(prefix, [list(contexts[m][length:]) for m in members])
            last_logprobs.update(zip(members, scored, strict=True))
        for k in fast:
            request_str, ctx, cont = requests[k]
            logprobs = last_logprobs[index[tuple(ctx)]]
            answer = (float(logprobs[cont[0]]), bool(int(logprobs.argmax()) == cont[0]))
            results[k] = answer
            self.cache_hook.add_partial("loglikelihood", request_str, answer)
        rest = [k for k in range(len(requests)) if k not in results]
        if rest:
            plain = super()._loglikelihood_tokens([requests[k] for k in rest], disable_tqdm, override_bs)
            results.update(zip(rest, plain, strict=True))
            self.tokens_forwarded += sum(len(requests[k][1]) + len(requests[k][2]) - 1 for k in rest)
        return [results[k] for k in range(len(requests))]
