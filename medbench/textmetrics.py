"""BLEU and ROUGE for Chinese, computed the way the convention names say -- the part harnesses get wrong.

* BLEU-n: ``sacrebleu`` corpus BLEU with ``tokenize="zh"`` (each CJK character a token) and
  ``max_ngram_order=n`` (cumulative, uniform weights, brevity penalty), plus the per-order precisions.
* ROUGE-1/2/L: ``rouge-score`` F1 with a character tokenizer. Its default tokenizer keeps only
  ``[a-z0-9]`` and scores any Chinese pair 0; ours splits into characters (whitespace dropped).
  Sentence-level F1, averaged over the corpus.
* ``*_jieba`` variants segment words with jieba first (BLEU with ``tokenize="none"`` on the
  space-joined words); they are named as such and never mixed with the character-level ones.
* ``*_cmexam`` variants are the ``cmexam-official`` convention (:mod:`medbench.cmexam_official`):
  what CMExam's released script computes, which Qilin-Med's published numbers used.
* ``char_f1`` is the ``char-f1`` convention: per item, F1 of the prediction's and the reference's
  character multisets (whitespace dropped; the CMRC/SQuAD-style overlap F1 on characters), averaged
  over the corpus.

Values are fractions in [0, 1]; tables show them x100. Each metric's convention is in
:data:`CONVENTIONS` and is written next to the score in the run folder.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

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


def bleu(preds: Sequence[str], refs: Sequence[str], order: int, words: bool = False) -> float:
    """Corpus BLEU-``order`` as a fraction; ``words`` switches to jieba segmentation."""
    from sacrebleu.metrics import BLEU

    if words:
        preds = [" ".join(jieba_words(p)) for p in preds]
        refs = [" ".join(jieba_words(r)) for r in refs]
    metric = BLEU(tokenize="none" if words else "zh", max_ngram_order=order, effective_order=False)
    return metric.corpus_score(list(preds), [list(refs)]).score / 100


def bleu_precisions(preds: Sequence[str], refs: Sequence[str]) -> list[float]:
    """The four n-gram precisions (fractions) of character-level corpus BLEU."""
    from sacrebleu.metrics import BLEU

    score = BLEU(tokenize="zh").corpus_score(list(preds), [list(refs)])
    return [p / 100 for p in score.precisions]


@functools.lru_cache(maxsize=4)
def _scorer(words: bool):
    from rouge_score import rouge_scorer

    tokenizer = JiebaTokenizer() if words else CharTokenizer()
    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), tokenizer=tokenizer)


def rouge(preds: Sequence[str], refs: Sequence[str], kind: str, words: bool = False) -> float:
    """Mean sentence-level ROUGE F1 (``kind`` in rouge1/rouge2/rougeL) as a fraction."""
    if not preds:
        return 0.0
    scorer = _scorer(words)
    return sum(scorer.score(r, p)[kind].fmeasure for p, r in zip(preds, refs, strict=True)) / len(preds)


def char_f1_score(preds: Sequence[str], refs: Sequence[str]) -> float:
    """Mean over items of the F1 between character multisets (an empty pair scores 1, one empty side 0)."""
    from collections import Counter

    if not preds:
        return 0.0
    total = 0.0
    for pred, ref in zip(preds, refs, strict=True):
        p, r = Counter(CharTokenizer().tokenize(pred)), Counter(CharTokenizer().tokenize(ref))
        common = sum((p & r).values())
        if not p or not r:
            total += float(p == r)
        elif common:
            precision, recall = common / sum(p.values()), common / sum(r.values())
            total += 2 * precision * recall / (precision + recall)
    return total / len(preds)


def _corpus(items: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    refs = [ref for ref, _ in items]
    preds = [pred for _, pred in items]
    return preds, refs


def aggregation(metric: str) -> Callable[[list[tuple[str, str]]], float]:
    """lm-eval aggregation for one metric name; items are ``(reference, prediction)`` pairs."""
    if metric.endswith("_cmexam"):
        from medbench import cmexam_official

        base = metric.removesuffix("_cmexam")
        if base.startswith("bleu"):
            return lambda items: cmexam_official.bleu(*_corpus(items), order=int(base[len("bleu") :]))
        return lambda items: cmexam_official.rouge(*_corpus(items), kind=base)
    if metric == "char_f1":
        return lambda items: char_f1_score(*_corpus(items))
    words = metric.endswith("_jieba")
    base = metric.removesuffix("_jieba")
    if base.startswith("bleu_p"):
        order = int(base[len("bleu_p") :])
        return lambda items: bleu_precisions(*_corpus(items))[order - 1]
    if base.startswith("bleu"):
        order = int(base[len("bleu") :])
        return lambda items: bleu(*_corpus(items), order=order, words=words)
    return lambda items: rouge(*_corpus(items), kind=base, words=words)


def __getattr__(name: str) -> Callable[[list[tuple[str, str]]], float]:
    """``aggregation: !function medbench.textmetrics.<metric>`` in task YAMLs resolves here."""
    if name in CONVENTIONS:
        return aggregation(name)
    raise AttributeError(name)
