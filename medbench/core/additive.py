"""Corpus metrics declared as sums of per-item statistics.

Corpus BLEU is a function of n-gram match counts and lengths summed over the corpus; a count-based F1
of true positives, predictions and gold; a corpus mean of sentence scores of (score, 1) summed. A
metric declared this way (:class:`Additive`) is computed from those sums -- the same value the corpus
metric gives -- and its bootstrap (:func:`medbench.analysis.intervals.bootstrap_sums`) resamples rows of
precomputed statistics instead of re-tokenising and re-scoring every resampled corpus: 2,000 resamples
cost a matrix product, where re-running sacrebleu or rouge-score cost minutes per task.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


class Additive:
    """An lm-eval aggregation (it is called with the items) that says how it decomposes: ``stats``
    gives one item's statistics, ``finish`` the corpus value from their column sums; ``empty`` is
    the value of no items. Not a dataclass on purpose: lm-eval dumps a task's config with
    ``dataclasses.asdict``, which would spell a dataclass out field by field (two function reprs with
    memory addresses, different in every run); a plain object is written as its ``repr``."""

    def __init__(
        self,
        stats: Callable[[Any], Sequence[float]],
        finish: Callable[[np.ndarray], float],
        empty: float = 0.0,
        name: str = "",
    ) -> None:
        self.stats, self.finish, self.empty, self.name = stats, finish, empty, name

    def __repr__(self) -> str:
        return f"medbench corpus metric {self.name or '(unnamed)'}: a function of per-item sums"

    def rows(self, items: Sequence[Any]) -> np.ndarray:
        """One row of statistics per item."""
        return np.asarray([self.stats(item) for item in items], dtype=float)

    def __call__(self, items: Sequence[Any]) -> float:
        if not len(items):
            return self.empty
        return self.finish(self.rows(items).sum(axis=0))


def mean_of(score: Callable[[Any], float], name: str = "") -> Additive:
    """A corpus mean of per-item ``score``s (sentence ROUGE, character F1) as sums (score, 1)."""
    return Additive(lambda item: (score(item), 1.0), lambda totals: float(totals[0] / totals[1]), name=name)
