"""95% intervals that are right at every n, as glue over ``scipy.stats``.

A plain proportion (accuracy, a rate) gets the Wilson score interval: unlike ``value ± 1.96 ×
stderr`` it never leaves [0, 1] and it is honest at n = 1, 0/n and n/n. Any other statistic
(F1, BLEU, ROUGE, a corpus-level aggregate, a judge's win rate, a bias scale's mean) gets a
percentile bootstrap over items, reproducible from a fixed seed. A group's score (micro or macro
over subjects) gets a two-stage bootstrap: subjects resampled, then items within each drawn subject,
so the interval carries the spread between subjects as well as within them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
from scipy import stats

T = TypeVar("T")

LEVEL = 0.95
RESAMPLES = 2000
SEED = 0

WILSON = "wilson"
EXACT = "clopper-pearson"
BOOTSTRAP = "bootstrap (items)"
CLUSTERED = "bootstrap (subjects, then items)"

Interval = tuple[float, float]


def proportion(k: int, n: int, method: str = WILSON) -> Interval | None:
    """The 95% interval of ``k`` successes in ``n`` trials (Wilson, or exact Clopper-Pearson); None
    when n = 0 (nothing to say)."""
    if n <= 0:
        return None
    ci = stats.binomtest(int(k), int(n)).proportion_ci(LEVEL, method="exact" if method == EXACT else "wilson")
    return float(ci.low), float(ci.high)


def percentile(draws: Sequence[float]) -> Interval:
    """The central 95% of bootstrap draws (linear interpolation between order statistics)."""
    low, high = np.percentile(np.asarray(draws, dtype=float), [50 * (1 - LEVEL), 50 * (1 + LEVEL)])
    return float(low), float(high)


def bootstrap(
    items: Sequence[T], statistic: Callable[[list[T]], float], seed: int = SEED, resamples: int = RESAMPLES
) -> Interval | None:
    """Percentile bootstrap of ``statistic`` over ``items`` (resampled with replacement); None for no
    items. A resample whose statistic is undefined (None or NaN) is skipped."""
    if not items:
        return None
    rng = np.random.default_rng(seed)
    pool = list(items)
    draws = []
    for _ in range(resamples):
        value = statistic([pool[i] for i in rng.integers(0, len(pool), len(pool))])
        if value is not None and value == value:
            draws.append(float(value))
    return percentile(draws) if draws else None


def bootstrap_mean(values: Sequence[float], seed: int = SEED, resamples: int = RESAMPLES) -> Interval | None:
    """Percentile bootstrap of a mean (scipy's, vectorised); a constant sample's interval is the point."""
    if not values:
        return None
    data = np.asarray(values, dtype=float)
    if np.all(data == data[0]):
        return float(data[0]), float(data[0])
    result = stats.bootstrap(
        (data,), np.mean, n_resamples=resamples, method="percentile", rng=np.random.default_rng(seed)
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def clustered(
    clusters: Sequence[Sequence[T]],
    statistic: Callable[[list[list[T]]], float],
    seed: int = SEED,
    resamples: int = RESAMPLES,
) -> Interval | None:
    """Two-stage bootstrap: draw clusters (subjects) with replacement, then items within each drawn
    cluster; ``statistic`` gets the drawn clusters' item lists."""
    pools = [list(c) for c in clusters if len(c)]
    if not pools:
        return None
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        drawn = [pools[i] for i in rng.integers(0, len(pools), len(pools))]
        value = statistic([[c[j] for j in rng.integers(0, len(c), len(c))] for c in drawn])
        if value is not None and value == value:
            draws.append(float(value))
    return percentile(draws) if draws else None


def micro_mean(clusters: list[list[float]]) -> float:
    """Every item counts once."""
    return float(np.mean([v for c in clusters for v in c]))


def macro_mean(clusters: list[list[float]]) -> float:
    """Every subject counts once."""
    return float(np.mean([np.mean(c) for c in clusters]))
