"""A faster local backend for few-shot multiple choice: compute the shared prefix once.

In 5-shot MC every question of a subject repeats the same few-shot block, and lm-eval's ``hf`` model
runs it through the network again for each question (its logits cache only merges the four option
letters of one question). Here the requests whose continuation is a single token are grouped by the
token prefix their contexts share: the prefix is run once (its KV cache kept), then only each
question's own tokens run on top of it, in batches (the prefix's cache expanded over the batch, the
questions right-padded under an attention mask, as many as lm-eval's ``--batch-size`` rows of the
longest context would hold), and each option is scored from the last real position's logits; a
stretch several questions share next (a stem under ``--circular``) runs once too. Anything else --
multi-token continuations, contexts too long for the model, a context that shares no prefix with
another, every request of a model with a recurrent state (Mamba, Jamba) -- goes through the plain
``hf`` path unchanged, so the predictions are the plain backend's.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from lm_eval.api.registry import register_model
from transformers.cache_utils import DynamicCache, DynamicLayer, LinearAttentionCacheLayerMixin

from medbench.backends._prefixes import prefix_groups, single_token_requests
from medbench.backends._whole_chars import WholeCharsHFLM

log = logging.getLogger("medbench")
#: below the shared few-shot prefix, a stretch shared by fewer tokens runs with each member instead
NESTED_MIN_SHARED = 4
#: a member batch's rows are at least this full: the narrowest member is this share of the widest
FILL = 0.75


@dataclass
class Node:
    """Tokens run once on top of their parent's: a shared prefix or a stretch several members share
    next (their rests below), or a leaf (the rest of one member's context, whose next-token
    distribution is read)."""

    tokens: tuple[int, ...]
    member: int | None = None
    children: list[Node] = field(default_factory=list)


def member_trie(rests: list[tuple[int, ...]], members: list[int]) -> list[Node]:
    """The members' own tokens (``rests[i]`` is member ``members[i]``'s) as a trie: a stretch of at
    least ``NESTED_MIN_SHARED`` tokens that several share next (a question's stem, shared by its option
    orders under ``--circular``) is one node, run once."""
    nodes = []
    for shared, group in prefix_groups(rests, min_shared=NESTED_MIN_SHARED):
        if len(group) == 1:
            nodes.append(Node(rests[group[0]], member=members[group[0]]))
        else:
            below = member_trie([rests[i][shared:] for i in group], [members[i] for i in group])
            nodes.append(Node(rests[group[0]][:shared], children=below))
    return nodes


def member_batches(widths: list[int], cached: int, budget: int) -> list[list[int]]:
    """Indices of ``widths`` (widest first, as lm-eval orders its batches) cut into batches whose
    rows, each ``cached`` positions of KV cache plus the batch's widest member, hold at most
    ``budget`` positions; a member wider than the budget runs alone, and one less than ``FILL`` of
    the batch's widest starts a new batch (padding costs a CPU as much as a token does)."""
    order = sorted(range(len(widths)), key=lambda i: -widths[i])
    batches: list[list[int]] = []
    for i in order:
        widest = widths[batches[-1][0]] if batches else 0
        if batches and widths[i] >= FILL * widest and (len(batches[-1]) + 1) * (cached + widest) <= budget:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


@dataclass
class Rows:
    """KV-cache rows that members run on: row r holds one trie path, right-padded to the longest;
    ``mask`` marks its real positions and ``lengths`` counts them (the next position's id)."""

    cache: DynamicCache
    mask: torch.Tensor  # [rows, cached positions], 1 = real
    lengths: torch.Tensor  # [rows]

    def select(self, rows: list[int]) -> DynamicCache:
        """A new cache of the given rows (an expanded view where there is one row to repeat)."""
        if self.mask.shape[0] == 1:
            return DynamicCache(
                [(k.expand(len(rows), -1, -1, -1), v.expand(len(rows), -1, -1, -1)) for k, v, _ in self.cache]
            )
        index = torch.tensor(rows, device=self.mask.device)
        return DynamicCache([(k[index], v[index]) for k, v, _ in self.cache])


def plain_dynamic(cache) -> bool:
    """Whether every layer of ``cache`` is a plain growing KV cache, whose rows can be selected and
    padded freely (a sliding-window or recurrent layer cannot be padded in the middle)."""
    return type(cache) is DynamicCache and all(type(layer) is DynamicLayer for layer in cache.layers)


def recurrent(cache) -> bool:
    """Whether a layer of ``cache`` keeps a recurrent state (transformers' linear-attention layers:
    Mamba's, Jamba's). transformers continues such a state wrongly by more than one token at a time
    (measured: a Mamba prefix cache continued by 2 tokens is off by ~10 nats), so a model with one
    takes the plain path for every request."""
    return any(isinstance(layer, LinearAttentionCacheLayerMixin) for layer in cache.layers)


@register_model("medbench-hf")
class PrefixCachedHFLM(WholeCharsHFLM):
    """lm-eval's ``hf`` model with shared-prefix KV caching for single-token continuations."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tokens_forwarded = 0  # real (non-padding) token positions run through the model
        self._encoded: dict | None = None  # within loglikelihood: each distinct string's tokens
        self.shares_prefixes = not recurrent(DynamicCache(config=self.model.config))
        if not self.shares_prefixes:
            log.warning(
                "hf-fast: %s keeps a recurrent state (no KV cache to share): every request takes "
                "lm-eval's plain hf path",
                type(self.model).__name__,
            )

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        """lm-eval's, with each distinct string tokenised once: its ``_encode_pair`` encodes a
        question's context again for every option."""
        self._encoded = {}
        try:
            return super().loglikelihood(requests, disable_tqdm=disable_tqdm)
        finally:
            self._encoded = None

    def tok_encode(self, string: str, add_special_tokens=None, left_truncate_len=None, **kwargs) -> list[int]:
        if self._encoded is None or kwargs:
            return super().tok_encode(string, add_special_tokens, left_truncate_len, **kwargs)
        key = (string, add_special_tokens, left_truncate_len)
        if key not in self._encoded:
            self._encoded[key] = super().tok_encode(string, add_special_tokens, left_truncate_len)
        return list(self._encoded[key])

    def _score_shared(self, contexts, shared, budget: int) -> dict[int, torch.Tensor]:
        """Log-softmax after each context of the prefix groups ``shared`` ((prefix length, context
        indices) pairs), each prefix computed once.

        On a plain KV cache all of it is one trie, run level by level (:meth:`_run_level`): the
        prefixes of several groups in a batch, then their members' own tokens (:func:`member_trie`)
        together, on the rows of their prefixes. Any other cache (a sliding window, a recurrent state)
        is copied per member, and only the prefix is shared.
        """
        out: dict[int, torch.Tensor] = {}
        with torch.inference_mode():
            if plain_dynamic(DynamicCache(config=self.model.config)):
                roots = [
                    Node(
                        contexts[members[0]][:length],
                        children=member_trie([contexts[m][length:] for m in members], members),
                    )
                    for length, members in shared
                ]
                start = torch.zeros((1, 0), dtype=torch.long, device=self.device)  # one empty row
                empty = Rows(DynamicCache(), start, torch.zeros(1, dtype=torch.long, device=self.device))
                self._run_level(empty, [(0, root) for root in roots], budget, out)
                return out
            for length, members in shared:
                prefix_ids = torch.tensor(
                    [contexts[members[0]][:length]], dtype=torch.long, device=self.device
                )
                # the prefix's own logits are never needed: keep one position (no vocabulary projection)
                cache = self.model(prefix_ids, use_cache=True, logits_to_keep=1).cache
                self.tokens_forwarded += length
                for m in members:
                    out[m] = self._last_logprobs(copy.deepcopy(cache), list(contexts[m][length:]))
        return out

    def _last_logprobs(self, cache, tokens: list[int]) -> torch.Tensor:
        """Run ``tokens`` on top of ``cache`` (which grows by them); the log-softmax after the last."""
        ids = torch.tensor([tokens], dtype=torch.long, device=self.device)
        logits = self.model(ids, cache=cache, use_cache=True, logits_to_keep=1).logits
        self.tokens_forwarded += len(tokens)
        return F.log_softmax(logits[0, -1].float(), dim=-1)

    def _run_level(self, rows: Rows, items: list[tuple[int, Node]], budget: int, out: dict) -> None:
        """Run each node of ``items`` (on the row of ``rows`` it names) in batches; leaves' log-softmax
        go to ``out``, and each batch's shared stretches carry their children on to the next level."""
        cached = rows.mask.shape[1]
        for batch in member_batches([len(node.tokens) for _, node in items], cached, budget):
            chosen = [items[i] for i in batch]
            width = len(chosen[0][1].tokens)
            ids = torch.zeros((len(chosen), width), dtype=torch.long, device=self.device)  # 0: padding
            own = torch.zeros_like(ids)
            for j, (_, node) in enumerate(chosen):
                ids[j, : len(node.tokens)] = torch.tensor(node.tokens)
                own[j, : len(node.tokens)] = 1
            picked = [r for r, _ in chosen]
            lengths = rows.lengths[picked]
            mask = torch.cat([rows.mask[picked], own], dim=1)
            leaves = [
                (j, len(node.tokens) - 1) for j, (_, node) in enumerate(chosen) if node.member is not None
            ]
            keep = sorted({last for _, last in leaves}) or [width - 1]
            result = self.model(
                ids,
                attention_mask=mask,
                position_ids=lengths[:, None] + torch.arange(width, device=self.device),
                cache=rows.select(picked),
                use_cache=True,
                logits_to_keep=torch.tensor(keep, device=self.device),
            )
            self.tokens_forwarded += int(own.sum())
            column = {position: c for c, position in enumerate(keep)}
            for j, last in leaves:
                out[chosen[j][1].member] = F.log_softmax(result.logits[j, column[last]].float(), dim=-1)
            below = [(j, child) for j, (_, node) in enumerate(chosen) for child in node.children]
            if below:
                self._run_level(Rows(result.cache, mask, lengths + own.sum(dim=1)), below, budget, out)

    def _position_budget(self, requests, fast: list[int]) -> int:
        """Token positions one member batch may hold: those of lm-eval's batch of ``--batch-size`` rows
        of the longest context (``auto``: the rows lm-eval's own detection finds for that context), so
        short members run many to a batch and memory stays what the plain path would use."""
        longest = max(fast, key=lambda k: len(requests[k][1]))
        rows = (
            self._detect_batch_size(requests, longest) if self.batch_size == "auto" else int(self.batch_size)
        )
        return rows * len(requests[longest][1])

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, override_bs=None):
        fast = (
            single_token_requests(requests, max_context=self.max_length - 1) if self.shares_prefixes else []
        )
        contexts = sorted({tuple(requests[k][1]) for k in fast})
        index = {c: n for n, c in enumerate(contexts)}
        shared = [(length, members) for length, members in prefix_groups(contexts) if len(members) > 1]
        in_group = {m for _, members in shared for m in members}
        fast = [k for k in fast if index[tuple(requests[k][1])] in in_group]
        results: dict[int, tuple[float, bool]] = {}
        budget = self._position_budget(requests, fast) if fast else 0
        last_logprobs = self._score_shared(contexts, shared, budget)
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
            # lm-eval runs each distinct context + continuation[:-1] once (its logits cache), truncated
            runs = {tuple(requests[k][1] + requests[k][2][:-1]) for k in rest}
            self.tokens_forwarded += sum(min(len(tokens), self.max_length) for tokens in runs)
        return [results[k] for k in range(len(requests))]
