"""The Min-K% Prob probe: does a model find an evaluation item's own text unusually likely?

For models whose training data is unknown (Shi et al., "Detecting Pretraining Data from Large
Language Models", 2023): an item's text is tokenised and scored by the model; its Min-K% is the mean
log-probability of its k% least likely tokens. A text the model trained on has few surprising tokens,
so its Min-K% is high. Raw values depend on the text, so each multiple-choice item is compared with
itself: the same text with its options shuffled (the reference distribution), scored the same way.
``gap`` = the item's Min-K% minus its shuffles' mean; a model that memorised the item prefers the
order it saw. Per task: the mean gap and a one-sided Wilcoxon signed-rank test of gap > 0.

Where the training data is known too (``--train`` / ``--model-card`` beside ``--model``), the probe is
checked against it: the AUROC with which Min-K% (and the gap) separates the items the overlap check
found copied (n-gram overlap or whole text) from the items it found nowhere, with a one-sided
Mann-Whitney test. Items found only as near-duplicates are left out of that comparison (counted).

The probe flags no item: no threshold is calibrated, so ``--exclude-contaminated`` never drops an item
on its word. Its caveats travel with every result (:data:`CAVEATS`).

Two conventions take a text's Min-K% (``--min-k-convention``, :data:`CONVENTIONS`), and the summary
names the one used. ``medbench`` (the default) scores every token of the text after lm-eval's prefix
token and rounds k% of them up (at least one). ``reference`` is Shi et al.'s code
(swj0419/detect-pretrain-code, ``src/run.py``): the tokenizer's own encoding, whose first token is the
context only (n-1 values: without a BOS the text's first token is not scored), and
``int(n * k / 100)`` of them, rounded down (a text with too few tokens has no value, where the
reference gets the mean of nothing). Both report the mean log-probability; the reference prints its
negative.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable

CAVEATS = [
    "Min-K% is a likelihood score, not proof of training: short, formulaic or common texts score high "
    "without having been seen, so compare items of one model with each other, never one model's values "
    "with another's (tokenisers differ).",
    "The reference is the same item with its options shuffled: a canonical order can be likelier for "
    "reasons other than memorisation (ascending numbers, 'all of the above' last), so a positive mean "
    "gap is evidence to weigh, not a verdict.",
    "No threshold is calibrated, so the probe flags no item and --exclude-contaminated ignores it; the "
    "AUROC is reported only where the training data is known.",
]


#: the ways a text's Min-K% is taken (the module's docstring says why there are two)
CONVENTIONS = {
    "medbench": "every text token after lm-eval's prefix token; k% of them rounded up, at least one",
    "reference": "Shi et al.'s code (swj0419/detect-pretrain-code): the tokenizer's encoding, its first "
    "token the context only (n-1 tokens); int(n x k%) of them, rounded down",
}


def min_k(logprobs: list[float], k: float, convention: str = "medbench") -> float | None:
    """The mean of the lowest ``k`` percent of the token log-probabilities: rounded up to at least one
    token (``medbench``), or down as the reference does (``reference``: None when that is none)."""
    if convention == "reference":
        count = int(len(logprobs) * (k / 100))  # the reference's int(len(all_prob) * ratio)
    else:
        count = max(1, math.ceil(len(logprobs) * k / 100)) if logprobs else 0
    if not count:
        return None
    lowest = sorted(logprobs)[:count]
    return sum(lowest) / len(lowest)


def tokens(lm, text: str, convention: str = "medbench") -> list[int]:
    """The token sequence whose tokens after the first are scored: lm-eval's prefix token then the
    text (``medbench``), or the tokenizer's own encoding with its special tokens (``reference``)."""
    if convention == "reference":
        return list(lm.tok_encode(text, add_special_tokens=True))
    return [lm.prefix_token_id, *lm.tok_encode(text)]


def shuffles(options: list, count: int, rng: random.Random) -> list[list]:
    """Up to ``count`` distinct orders of the options other than the given one (fewer when the
    options have fewer orders)."""
    orders: list[list] = []
    if len(options) < 2:
        return orders
    possible = math.factorial(len(options)) - 1
    while len(orders) < min(count, possible):
        order = rng.sample(options, len(options))
        if order != options and order not in orders:
            orders.append(order)
    return orders


def probe(
    lm, texts: dict[str, tuple[str, list[str]]], k: float, convention: str = "medbench"
) -> tuple[dict[str, dict], int]:
    """Min-K% of each item's text and of its references (``texts``: key -> (text, references)) under
    ``convention``; returns the per-item values and how many texts were cut to the model's window."""
    from medbench.models.tokenprobs import token_logprobs, window

    limit = window(lm)
    flat: list[tuple[str, int]] = []  # (key, 0 = the item, 1.. = its references)
    sequences: list[list[int]] = []
    cut = 0
    for key, (text, references) in texts.items():
        for which, body in enumerate([text, *references]):
            sequence = tokens(lm, body, convention)
            if limit and len(sequence) > limit:
                sequence, cut = sequence[:limit], cut + 1
            flat.append((key, which))
            sequences.append(sequence)
    # a sequence of one token has nothing scored (the reference's encoding of a one-token text)
    scored_ones = iter(token_logprobs(lm, [s for s in sequences if len(s) > 1]))
    values: dict[str, list[float | None]] = {key: [] for key in texts}
    for (key, _), sequence in zip(flat, sequences, strict=True):
        values[key].append(min_k(next(scored_ones) if len(sequence) > 1 else [], k, convention))
    out = {}
    for key, (own, *refs) in values.items():
        scored = [r for r in refs if r is not None]
        reference = statistics.fmean(scored) if scored else None
        gap = own - reference if own is not None and reference is not None else None
        out[key] = {"min_k": _round(own), "min_k_reference": _round(reference), "gap": _round(gap)}
    return out, cut


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def task_summary(rows: list[dict]) -> dict:
    """One task's probe: items scored, mean Min-K%, mean gap, and the one-sided signed-rank test."""
    from scipy.stats import wilcoxon

    own = [r["min_k"] for r in rows if r.get("min_k") is not None]
    gaps = [r["gap"] for r in rows if r.get("gap") is not None]
    out = {
        "items": len(own),
        "min_k_mean": _round(statistics.fmean(own)) if own else None,
        "with_reference": len(gaps),
        "gap_mean": _round(statistics.fmean(gaps)) if gaps else None,
        "gap_positive": sum(g > 0 for g in gaps),
        "wilcoxon_p": None,
    }
    if any(gaps):
        out["wilcoxon_p"] = _round(float(wilcoxon(gaps, alternative="greater").pvalue))
    return out


def separation(rows: list[dict], copied: Callable[[dict], bool | None]) -> dict | None:
    """How well Min-K% and the gap separate the items the overlap check found copied (``copied`` True)
    from those it found nowhere (False); None-labelled items are left out. None without both kinds."""
    from scipy.stats import mannwhitneyu
    from sklearn.metrics import roc_auc_score

    labelled = [(r, copied(r)) for r in rows if r.get("min_k") is not None]
    left_out = sum(label is None for _, label in labelled)
    labelled = [(r, label) for r, label in labelled if label is not None]
    positives = sum(label for _, label in labelled)
    if not positives or positives == len(labelled):
        return None
    out = {"copied": positives, "not_found": len(labelled) - positives, "left_out_near_duplicates": left_out}
    for score in ("min_k", "gap"):
        pairs = [(r[score], label) for r, label in labelled if r.get(score) is not None]
        if len({label for _, label in pairs}) < 2:
            out[score] = None
            continue
        values, labels = [v for v, _ in pairs], [label for _, label in pairs]
        seen = [v for v, label in pairs if label]
        unseen = [v for v, label in pairs if not label]
        out[score] = {
            "auroc": _round(float(roc_auc_score(labels, values))),
            "mannwhitney_p": _round(float(mannwhitneyu(seen, unseen, alternative="greater").pvalue)),
        }
    return out
