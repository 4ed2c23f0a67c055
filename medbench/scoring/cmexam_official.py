"""The ``cmexam-official`` convention: BLEU and ROUGE exactly as CMExam's released evaluation scored
explanations (``src/evaluation/evaluate_*_result.py`` in williamliujl/CMExam at fadb22c; Qilin-Med
ships byte-identical copies, and its Table 5 numbers come from them). Reimplemented here from what
that code computes; ``tests/test_textmetrics.py`` holds the official script's own outputs on a
fixture as golden values.

What differs from medbench's ``sacrebleu-zh`` convention:

* BLEU: corpus BLEU over **jieba words** (``jieba.cut``, default mode, whitespace kept as tokens),
  clipped n-gram counts, uniform weights, no smoothing (0 as soon as one order has no match) and the
  brevity penalty ``exp(1 - r/c)`` when the candidate corpus is shorter.
* ROUGE-1/2: F1 over n-gram **sets** (a repeated n-gram counts once); ``2PR / (P + R + 1e-8)``.
* ROUGE-L: the F-measure with ``beta = P_lcs / R_lcs``; the script hands the prediction over as the
  reference, so ``R_lcs = LCS / len(prediction)`` and ``P_lcs = LCS / len(reference)``.
* ROUGE tokens are the characters of the text joined with spaces then split on one space, so every
  whitespace character becomes two empty tokens and an empty reply is one empty token.
* ROUGE is the mean of sentence-level scores. An empty reply is one empty token, which matches the
  empty tokens a reference's whitespace makes: it scores 0 only against a reference with no
  whitespace (1 - 1e-8 against an empty one, as the script's epsilons give).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from medbench.core.additive import Additive, mean_of


def bleu_tokens(text: str) -> list[str]:
    import jieba

    return list(jieba.cut(text or "", cut_all=False))


def rouge_tokens(text: str) -> list[str]:
    return " ".join(text or "").split(" ")


def _ngram_counts(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _bleu_stats(order: int):
    """One (reference, prediction) pair's lengths, clipped matches and possible n-grams per order."""

    def stats(item: tuple[str, str]) -> list[int]:
        p, r = bleu_tokens(item[1]), bleu_tokens(item[0])
        matches = [sum((_ngram_counts(p, n) & _ngram_counts(r, n)).values()) for n in range(1, order + 1)]
        possible = [max(len(p) - n + 1, 0) for n in range(1, order + 1)]
        return [len(p), len(r), *matches, *possible]

    return stats


def _bleu_from(order: int):
    def finish(totals) -> float:
        pred_len, ref_len = totals[0], totals[1]
        matches, possible = totals[2 : 2 + order], totals[2 + order :]
        precisions = [m / c if c else 0.0 for m, c in zip(matches, possible, strict=True)]
        if min(precisions) <= 0 or not ref_len:
            return 0.0
        geo_mean = math.exp(sum(math.log(p) for p in precisions) / order)
        ratio = pred_len / ref_len
        return float(geo_mean * (1.0 if ratio > 1.0 else math.exp(1 - 1 / ratio)))

    return finish


def bleu_metric(order: int) -> Additive:
    """Corpus BLEU-``order`` (a fraction) over jieba words, as CMExam's script computes it."""
    return Additive(_bleu_stats(order), _bleu_from(order), name=f"bleu{order}_cmexam")


def bleu(preds: Sequence[str], refs: Sequence[str], order: int) -> float:
    """Corpus BLEU-``order`` (a fraction) over jieba words, as CMExam's script computes it."""
    return bleu_metric(order)(list(zip(refs, preds, strict=True)))


def _rouge_n(pred: list[str], ref: list[str], n: int) -> float:
    pred_set, ref_set = set(_ngram_counts(pred, n)), set(_ngram_counts(ref, n))
    overlap = len(pred_set & ref_set)
    precision = overlap / len(pred_set) if pred_set else 0.0
    recall = overlap / len(ref_set) if ref_set else 0.0
    return 2.0 * precision * recall / (precision + recall + 1e-8)


def _lcs_length(a: list[str], b: list[str]) -> int:
    row = [0] * (len(b) + 1)
    for x in a:
        previous_diagonal = 0
        for j, y in enumerate(b, start=1):
            current = row[j]
            row[j] = previous_diagonal + 1 if x == y else max(row[j], row[j - 1])
            previous_diagonal = current
    return row[-1]


def _rouge_l(pred: list[str], ref: list[str]) -> float:
    lcs = _lcs_length(ref, pred)
    recall, precision = lcs / len(pred), lcs / len(ref)  # the script's swap: the prediction as reference
    beta = precision / (recall + 1e-12)
    return (1 + beta**2) * recall * precision / (recall + beta**2 * precision + 1e-12)


def _rouge(kind: str):
    def score(item: tuple[str, str]) -> float:
        p, r = rouge_tokens(item[1]), rouge_tokens(item[0])
        return _rouge_l(p, r) if kind == "rougeL" else _rouge_n(p, r, int(kind[-1]))

    return score


def rouge_metric(kind: str) -> Additive:
    """Mean sentence-level ROUGE (``rouge1``, ``rouge2`` or ``rougeL``) as a fraction."""
    return mean_of(_rouge(kind), name=f"{kind}_cmexam")


def rouge(preds: Sequence[str], refs: Sequence[str], kind: str) -> float:
    """Mean sentence-level ROUGE (``rouge1``, ``rouge2`` or ``rougeL``) as a fraction."""
    return rouge_metric(kind)(list(zip(refs, preds, strict=True)))
