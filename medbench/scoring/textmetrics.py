"""BLEU and ROUGE for Chinese, computed the way the convention names say -- the part harnesses get wrong.

* BLEU-n: ``sacrebleu`` corpus BLEU with ``tokenize="zh"`` (each CJK character a token) and
  ``max_ngram_order=n`` (cumulative, uniform weights, brevity penalty), plus the per-order precisions.
* ROUGE-1/2/L: ``rouge-score`` F1 with a character tokenizer. Its default tokenizer keeps only
  ``[a-z0-9]`` and scores any Chinese pair 0; ours splits into characters (whitespace dropped).
  Sentence-level F1, averaged over the corpus.
* ``*_jieba`` variants segment words with jieba first (BLEU with ``tokenize="none"`` on the
  space-joined words); they are named as such and never mixed with the character-level ones.
* ``*_cmexam`` variants are the ``cmexam-official`` convention (:mod:`medbench.scoring.cmexam_official`):
  what CMExam's released script computes, which Qilin-Med's published numbers used.
* ``char_f1`` is the ``char-f1`` convention: per item, F1 of the prediction's and the reference's
  character multisets (whitespace dropped; the CMRC/SQuAD-style overlap F1 on characters), averaged
  over the corpus.

Values are fractions in [0, 1]; tables show them x100. Each metric's convention is in
:data:`CONVENTIONS` and is written next to the score in the run folder.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Sequence

from medbench.core.additive import Additive, mean_of

BLEU_ORDERS = (1, 2, 4)
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")

CONVENTIONS: dict[str, str] = {
    **{
        f"bleu{n}": f"sacrebleu corpus BLEU, max n-gram order {n}, tokenize=zh (character), brevity penalty"
        for n in BLEU_ORDERS
    },
    **{f"bleu_p{n}": f"sacrebleu corpus {n}-gram precision, tokenize=zh" for n in range(1, 5)},
    **{r: f"rouge-score {r} F1, character tokens, sentence level, corpus mean" for r in ROUGE_TYPES},
    **{f"bleu{n}_jieba": f"sacrebleu corpus BLEU-{n} on jieba words (tokenize=none)" for n in BLEU_ORDERS},
    **{f"{r}_jieba": f"rouge-score {r} F1 on jieba words, corpus mean" for r in ROUGE_TYPES},
    "char_f1": "char-f1: F1 of character multisets (whitespace dropped), item level, corpus mean",
    **{
        f"bleu{n}_cmexam": f"cmexam-official: corpus BLEU-{n} on jieba words, no smoothing (CMExam script)"
        for n in BLEU_ORDERS
    },
    **{
        f"{r}_cmexam": f"cmexam-official: {r} "
        + ("beta-weighted LCS F" if r == "rougeL" else "F1 on n-gram sets")
        + ", character tokens, sentence mean (CMExam script)"
        for r in ROUGE_TYPES
    },
}


class CharTokenizer:
    """rouge-score tokenizer: one token per non-space character (Chinese-safe)."""

    def tokenize(self, text: str) -> list[str]:
        return [ch for ch in (text or "") if not ch.isspace()]


class JiebaTokenizer:
    """rouge-score tokenizer: jieba words (the optional word-level variant)."""

    def tokenize(self, text: str) -> list[str]:
        return jieba_words(text)


def jieba_words(text: str) -> list[str]:
    """jieba's words of a text (blank tokens dropped); each text is cut once per process, as a corpus
    metric's bootstrap scores the same texts over and over."""
    return list(_jieba_words(text or ""))


@functools.lru_cache(maxsize=1 << 16)
def _jieba_words(text: str) -> tuple[str, ...]:
    import jieba

    return tuple(w for w in jieba.lcut(text) if w.strip())


def _bleu_metric(order: int, words: bool):
    from sacrebleu.metrics import BLEU

    return BLEU(tokenize="none" if words else "zh", max_ngram_order=order, effective_order=False)


def _bleu_stats(order: int, words: bool) -> Callable[[tuple[str, str]], list[int]]:
    """sacrebleu's own statistics of one (reference, prediction) pair: lengths, matches, totals."""
    metric = _bleu_metric(order, words)

    def stats(item: tuple[str, str]) -> list[int]:
        ref, pred = item
        if words:
            pred, ref = " ".join(jieba_words(pred)), " ".join(jieba_words(ref))
        return metric._extract_corpus_statistics([pred], [[ref]])[0]

    return stats


def _bleu_score(order: int, words: bool):
    metric = _bleu_metric(order, words)
    return lambda totals: metric._compute_score_from_stats([int(round(t)) for t in totals])


def bleu_metric(order: int, words: bool = False) -> Additive:
    """Corpus BLEU-``order`` as a fraction; ``words`` switches to jieba segmentation."""
    score = _bleu_score(order, words)
    name = f"bleu{order}" + ("_jieba" if words else "")
    # sacrebleu's exact match can read 100.00000000000004: a fraction never above 1
    return Additive(_bleu_stats(order, words), lambda totals: min(score(totals).score / 100, 1.0), name=name)


def bleu_precision(order: int) -> Additive:
    """The ``order``-gram precision (a fraction) of character-level corpus BLEU."""
    score = _bleu_score(4, False)
    finish = lambda totals: min(score(totals).precisions[order - 1] / 100, 1.0)  # noqa: E731
    return Additive(_bleu_stats(4, False), finish, name=f"bleu_p{order}")


def bleu(preds: Sequence[str], refs: Sequence[str], order: int, words: bool = False) -> float:
    """Corpus BLEU-``order`` as a fraction; ``words`` switches to jieba segmentation."""
    return bleu_metric(order, words)(list(zip(refs, preds, strict=True)))


@functools.lru_cache(maxsize=4)
def _scorer(words: bool):
    from rouge_score import rouge_scorer

    tokenizer = JiebaTokenizer() if words else CharTokenizer()
    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), tokenizer=tokenizer)


def rouge_metric(kind: str, words: bool = False) -> Additive:
    """Mean sentence-level ROUGE F1 (``kind`` in rouge1/rouge2/rougeL) as a fraction."""
    name = kind + ("_jieba" if words else "")
    return mean_of(lambda item: _scorer(words).score(item[0], item[1])[kind].fmeasure, name=name)


def rouge(preds: Sequence[str], refs: Sequence[str], kind: str, words: bool = False) -> float:
    """Mean sentence-level ROUGE F1 (``kind`` in rouge1/rouge2/rougeL) as a fraction."""
    return rouge_metric(kind, words)(list(zip(refs, preds, strict=True)))


def char_f1_of(item: tuple[str, str]) -> float:
    """F1 between the character multisets of (reference, prediction); an empty pair scores 1, one
    empty side 0."""
    ref, pred = item
    p, r = Counter(CharTokenizer().tokenize(pred)), Counter(CharTokenizer().tokenize(ref))
    if not p or not r:
        return float(p == r)
    common = sum((p & r).values())
    if not common:
        return 0.0
    precision, recall = common / sum(p.values()), common / sum(r.values())
    return 2 * precision * recall / (precision + recall)


def char_f1_score(preds: Sequence[str], refs: Sequence[str]) -> float:
    """Mean over items of their character F1 (:func:`char_f1_of`)."""
    return mean_of(char_f1_of)(list(zip(refs, preds, strict=True)))


def aggregation(metric: str) -> Additive:
    """lm-eval aggregation for one metric name; items are ``(reference, prediction)`` pairs."""
    if metric.endswith("_cmexam"):
        from medbench.scoring import cmexam_official

        base = metric.removesuffix("_cmexam")
        if base.startswith("bleu"):
            return cmexam_official.bleu_metric(int(base[len("bleu") :]))
        return cmexam_official.rouge_metric(base)
    if metric == "char_f1":
        return mean_of(char_f1_of, name="char_f1")
    words = metric.endswith("_jieba")
    base = metric.removesuffix("_jieba")
    if base.startswith("bleu_p"):
        return bleu_precision(int(base[len("bleu_p") :]))
    if base.startswith("bleu"):
        return bleu_metric(int(base[len("bleu") :]), words)
    return rouge_metric(base, words)


def __getattr__(name: str) -> Additive:
    """``aggregation: !function medbench.scoring.textmetrics.<metric>`` in task YAMLs resolves here."""
    if name in CONVENTIONS:
        return aggregation(name)
    raise AttributeError(name)
