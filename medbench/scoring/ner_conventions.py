"""Named scoring conventions for NER answered as mention lists (issue 14).

A generated answer names mentions (``疾病和诊断：胃癌``), not positions, so any span-level F1 must
decide where each mention is. The papers that report CCKS F1 from generated lists do not say how;
medbench computes every convention from the same stored outputs and names each one:

* ``gold-placement`` (the default, :mod:`medbench.scoring.ner`): a mention whose type and text match gold
  entities is placed at those gold spans; any other at its first free occurrence; a mention absent
  from the text is counted (``unlocated_rate``) but placed nowhere. Arithmetically exact, optimistic.
* ``all-occurrences``: a mention is placed at every occurrence of its text, annotated or not (``胃``
  also inside ``胃癌``); strict span matching, so unannotated repeats are false positives.
* ``first-occurrence``: a mention is placed at its first occurrence only.
* ``mention-set``: position-free: the (type, text) pairs of the answer against the document's gold
  (type, text) pairs.

In the three conventions here a mention that is not in the text is a false positive. Each item's
(true positives, predicted, gold) counts are summed over the corpus: micro precision, recall and F1.
"""

from __future__ import annotations

from medbench.core.additive import Additive

CONVENTIONS = {
    "all_occurrences": "all-occurrences: a mention at every occurrence of its text, strict spans, micro",
    "first_occurrence": "first-occurrence: a mention at its first occurrence, strict spans, micro",
    "mention_set": "mention-set: (type, text) pairs per document, position-free, micro",
}
#: metric names: ``<convention>_<precision|recall|f1>``
METRICS = [f"{c}_{m}" for c in CONVENTIONS for m in ("precision", "recall", "f1")]
#: the convention written next to each NER metric (``f1``, ``precision``, ``recall``: the default)
METRIC_CONVENTIONS = {
    **dict.fromkeys(
        ("f1", "precision", "recall"),
        "gold-placement: mentions at matching gold spans, seqeval on character BIO, micro",
    ),
    **{metric: CONVENTIONS[metric.rsplit("_", 1)[0]] for metric in METRICS},
}


def _occurrences(text: str, mention: str) -> list[int]:
    starts, at = [], text.find(mention)
    while mention and at != -1:
        starts.append(at)
        at = text.find(mention, at + 1)
    return starts


def counts(text: str, gold: list[dict], predicted: set[tuple[str, str]]) -> dict[str, tuple[int, int, int]]:
    """Per convention: (true positives, predicted, gold) for one item.

    ``gold``: entities ``{type, start, end}``; ``predicted``: (type, mention text) pairs.
    """
    gold_spans = {(e["type"], e["start"], e["end"]) for e in gold}
    out = {}
    for convention in ("all_occurrences", "first_occurrence"):
        spans, missing = set(), 0
        for label, mention in predicted:
            starts = _occurrences(text, mention)
            if not starts:
                missing += 1
            for start in starts if convention == "all_occurrences" else starts[:1]:
                spans.add((label, start, start + len(mention)))
        out[convention] = (len(spans & gold_spans), len(spans) + missing, len(gold_spans))
    gold_pairs = {(e["type"], text[e["start"] : e["end"]].strip()) for e in gold}
    out["mention_set"] = (len(predicted & gold_pairs), len(predicted), len(gold_pairs))
    return out


def _prf(items: list[tuple[int, int, int]]) -> tuple[float, float, float]:
    tp = sum(i[0] for i in items)
    predicted = sum(i[1] for i in items)
    gold = sum(i[2] for i in items)
    precision = tp / predicted if predicted else 0.0
    recall = tp / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def aggregation(metric: str) -> Additive:
    """lm-eval aggregation: items are this convention's per-item count triples, summed."""
    which = ("precision", "recall", "f1").index(metric.rsplit("_", 1)[1])
    return Additive(tuple, lambda totals: _prf([tuple(totals)])[which], name=f"ner {metric}")


def __getattr__(name: str) -> Additive:
    """``aggregation: !function medbench.scoring.ner_conventions.<convention>_<p|r|f1>`` resolves here."""
    if name in METRICS:
        return aggregation(name)
    raise AttributeError(name)
