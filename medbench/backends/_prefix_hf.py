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

#: below the shared few-shot prefix, a stretch shared by fewer tokens runs with each member instead
NESTED_MIN_SHARED = 4


@register_model("medbench-hf")
class PrefixCachedHFLM(WholeCharsHFLM):
    """lm-eval's ``hf`` model with shared-prefix KV caching for single-token continuations."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tokens_forwarded = 0  # real (non-padding) token positions run through the model

    def _score_group(self, prefix: list[int], suffixes: list[list[int]]) -> list[torch.Tensor]:
        """Log-softmax at each member's last context position, with the prefix computed once.

        On a cache that can crop, the members' own tokens are a trie too: a stretch that several
        members share next (a question's stem, shared by its option orders under ``--circular``) runs
        once on top of the prefix, then each member's rest; the cache is cropped back after each. A
        cache that cannot crop is copied per member, and only the prefix is shared.
        """
        out: list[torch.Tensor | None] = [None] * len(suffixes)
        with torch.inference_mode():
            prefix_ids = torch.tensor([prefix], dtype=torch.long, device=self.device)
            # the prefix's own logits are never needed: keep one position (skips the vocabulary projection)
            cache = self.model(prefix_ids, use_cache=True, logits_to_keep=1).cache
            self.tokens_forwarded += len(prefix)
            if getattr(cache, "is_croppable", False):
                self._descend(cache, suffixes, list(range(len(suffixes))), 0, out)
            else:
                for m, suffix in enumerate(suffixes):
                    out[m] = self._last_logprobs(copy.deepcopy(cache), suffix)
        return out

    def _last_logprobs(self, cache, tokens: list[int]) -> torch.Tensor:
        """Run ``tokens`` on top of ``cache`` (which grows by them); the log-softmax after the last."""
        ids = torch.tensor([tokens], dtype=torch.long, device=self.device)
        logits = self.model(ids, cache=cache, use_cache=True, logits_to_keep=1).logits
        self.tokens_forwarded += len(tokens)
        return F.log_softmax(logits[0, -1].float(), dim=-1)

    def _descend(self, cache, suffixes: list[list[int]], members: list[int], start: int, out: list) -> None:
        """Score ``members`` whose first ``start`` own tokens are in ``cache``; leaves it as found."""
        rests = [suffixes[m][start:] for m in members]
        for shared, group in prefix_groups([tuple(r) for r in rests], min_shared=NESTED_MIN_SHARED):
            if len(group) > 1:
                self._last_logprobs(cache, rests[group[0]][:shared])  # the shared stretch, once
                self._descend(cache, suffixes, [members[i] for i in group], start + shared, out)
                cache.crop(-shared)
                continue
            (i,) = group
            out[members[i]] = self._last_logprobs(cache, rests[i])
            cache.crop(-len(rests[i]))  # back to what the caller had

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
