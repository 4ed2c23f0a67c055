"""Token-prefix bookkeeping shared by the prefix-cached backends (``hf-fast`` and ``vllm-fast``).

Few-shot multiple choice asks for the log-likelihood of one option letter after a context that
repeats the same few-shot block for every question of a subject. Both fast backends pick those
requests out and group their contexts by the prefix they share; only how the shared prefix is
reused differs (a kept KV cache in ``hf-fast``, vLLM's automatic prefix cache in ``vllm-fast``).
"""

from __future__ import annotations

from collections.abc import Sequence

MIN_SHARED = 16  # a prefix shorter than this is not worth a separate pass

Request = tuple[object, list[int], list[int]]  # lm-eval's (cache key, context tokens, continuation tokens)


def common_prefix(a: Sequence, b: Sequence) -> int:
    """How many leading items two sequences (token ids, or characters) share."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def prefix_groups(
    contexts: list[tuple[int, ...]], min_shared: int = MIN_SHARED
) -> list[tuple[int, list[int]]]:
    """Group context indices (sorted order) so each group shares a prefix of at least ``min_shared``
    tokens; returns (prefix length, members). The prefix always leaves each member one own token."""
    order = sorted(range(len(contexts)), key=lambda i: contexts[i])
    groups: list[tuple[int, list[int]]] = []
    for i in order:
        if groups:
            length, members = groups[-1]
            shared = min(length, common_prefix(contexts[members[0]], contexts[i]), len(contexts[i]) - 1)
            if shared >= min_shared:
                groups[-1] = (shared, [*members, i])
                continue
        groups.append((len(contexts[i]) - 1, [i]))
    return groups


def single_token_requests(requests: Sequence[Request], max_context: int) -> list[int]:
    """Indices of the requests a fast path may score from one next-token distribution: a one-token
    continuation after a non-empty context of at most ``max_context`` tokens (never truncated)."""
    return [k for k, (_, ctx, cont) in enumerate(requests) if len(cont) == 1 and 0 < len(ctx) <= max_context]


def trie_size(contexts: Sequence[Sequence[int]]) -> int:
    """Distinct token positions over all contexts (each shared prefix counted once): the fewest
    tokens any backend must run to score them."""
    total, previous = 0, ()
    for ctx in sorted({tuple(c) for c in contexts}):
        total += len(ctx) - common_prefix(previous, ctx)
        previous = ctx
    return total
