"""95% intervals that are right at every n, as glue over ``scipy.stats`` and ``statsmodels``.

Every interval medbench prints comes from here, and each method is one that is valid at small n:

- a proportion (accuracy, a rate: one 0/1 value per unit) gets the **Wilson** score interval: it never
  leaves [0, 1] and is honest at n = 1, 0/n and n/n;
- a mean of values in [0, 1] over n units (a question's share of right rotations, a judge's win share
  with ties as half) gets Wilson at that mean and n (**Wilson bound**): such a mean's variance is at
  most p(1 - p)/n, so the interval is conservative, and it never has zero width where data could vary;
- the difference of two paired proportions (``compare``) gets **Newcombe's** hybrid score interval
  (1998, method 10), built from the two runs' Wilson intervals and their correlation; paired means
  of values in [0, 1] get the same square-and-add over the two Wilson bounds, without the
  correlation term (conservative);
- a group's macro score (the mean of its subjects' proportions) gets Wilson at its effective n,
  k² / Σ 1/mᵢ (the macro mean's variance under one common rate is p(1 - p) Σ (1/mᵢ) / k²);
- only a statistic with no score method (BLEU, an entity F1, a kappa, an unbounded mean) gets a
  percentile **bootstrap** over units (2,000 resamples, a fixed seed). A bootstrap whose resamples all
  give one value (every unit scored the same) has no width to report: it gives no interval, and
  :data:`DEGENERATE` names why, unless the values lie in [0, 1], where the Wilson bound stands in.

The unit is what an item record names as its ``unit`` (:mod:`medbench.core.units`): a question, never
one of its rotations or repeats.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
from scipy import stats

T = TypeVar("T")

LEVEL = 0.95
RESAMPLES = 2000
SEED = 0
Z = float(stats.norm.ppf(0.5 + LEVEL / 2))

WILSON = "wilson"
EXACT = "clopper-pearson"
WILSON_BOUND = "wilson bound (mean of [0, 1] values)"
WILSON_MACRO = "wilson (macro mean's effective n)"
NEWCOMBE = "newcombe (paired score)"
BOOTSTRAP = "bootstrap (items)"
DEGENERATE = "none: every resample gave one value"

Interval = tuple[float, float]


def wilson(p: float, n: float) -> Interval | None:
    """The Wilson score interval of a rate ``p`` observed over ``n`` units (n need not be whole: an
    effective sample size); None when n = 0."""
    if n <= 0:
        return None
    p = min(1.0, max(0.0, float(p)))
    denominator = 1 + Z * Z / n
    centre = (p + Z * Z / (2 * n)) / denominator
    half = Z / denominator * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def proportion(k: int, n: int, method: str = WILSON) -> Interval | None:
    """The 95% interval of ``k`` successes in ``n`` trials (Wilson, or exact Clopper-Pearson); None
    when n = 0 (nothing to say)."""
    if n <= 0:
        return None
    ci = stats.binomtest(int(k), int(n)).proportion_ci(LEVEL, method="exact" if method == EXACT else "wilson")
    return float(ci.low), float(ci.high)


def unit_interval(values: Sequence[float]) -> tuple[Interval | None, str]:
    """The interval of a mean of per-unit values: Wilson for 0/1 values, the Wilson bound for other
    values in [0, 1], else a bootstrap (flagged when degenerate)."""
    data = [float(v) for v in values]
    if not data:
        return None, ""
    if all(v in (0.0, 1.0) for v in data):
        return proportion(int(sum(data)), len(data)), WILSON
    if all(0.0 <= v <= 1.0 for v in data):
        return wilson(float(np.mean(data)), len(data)), WILSON_BOUND
    return bootstrap_mean(data)


def macro(rates: Sequence[tuple[float, int]]) -> Interval | None:
    """A macro mean's interval: ``rates`` are (subject rate, units); Wilson at the unweighted mean
    and the effective n k² / Σ 1/mᵢ."""
    kept = [(p, m) for p, m in rates if m > 0]
    if not kept:
        return None
    k = len(kept)
    mean = sum(p for p, _ in kept) / k
    return wilson(mean, k * k / sum(1 / m for _, m in kept))


def paired_difference(both: int, only_a: int, only_b: int, neither: int) -> Interval | None:
    """Newcombe's hybrid score interval (method 10) for B's rate minus A's, paired on the same units:
    ``both`` right in both, ``only_a`` right in A only, ``only_b`` right in B only, ``neither``."""
    n = both + only_a + only_b + neither
    if n == 0:
        return None
    p_a, p_b = (both + only_a) / n, (both + only_b) / n
    (low_a, high_a), (low_b, high_b) = proportion(both + only_a, n), proportion(both + only_b, n)
    denominator = (both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither)
    cross = both * neither - only_a * only_b
    if denominator == 0:
        phi = 0.0
    else:  # Newcombe's continuity-corrected correlation
        phi = (max(cross - n / 2, 0.0) if cross > 0 else cross) / math.sqrt(denominator)
    return _square_and_add(p_a, p_b, (low_a, high_a), (low_b, high_b), phi)


def paired_mean_difference(a: Sequence[float], b: Sequence[float]) -> Interval | None:
    """B's mean minus A's for paired per-unit values in [0, 1] (a --circular question's share of
    right rotations): Newcombe's square-and-add over the two Wilson bounds, without the correlation
    term -- conservative for the positively correlated pairs two runs of one benchmark give."""
    if not a or len(a) != len(b):
        return None
    n = len(a)
    p_a, p_b = sum(a) / n, sum(b) / n
    return _square_and_add(p_a, p_b, wilson(p_a, n), wilson(p_b, n), 0.0)


def _square_and_add(p_a: float, p_b: float, ci_a: Interval, ci_b: Interval, phi: float) -> Interval:
    """Newcombe's combination of two rates' intervals into one for ``p_b - p_a``."""
    (low_a, high_a), (low_b, high_b) = ci_a, ci_b
    delta = p_b - p_a
    down_b, up_a = p_b - low_b, high_a - p_a
    up_b, down_a = high_b - p_b, p_a - low_a
    below = math.sqrt(max(0.0, down_b**2 - 2 * phi * down_b * up_a + up_a**2))
    above = math.sqrt(max(0.0, up_b**2 - 2 * phi * up_b * down_a + down_a**2))
    return max(-1.0, delta - below), min(1.0, delta + above)


def percentile(draws: Sequence[float]) -> Interval:
    """The central 95% of bootstrap draws (linear interpolation between order statistics)."""
    low, high = np.percentile(np.asarray(draws, dtype=float), [50 * (1 - LEVEL), 50 * (1 + LEVEL)])
    return float(low), float(high)


def _spread(draws: list[float]) -> Interval | None:
    """The draws' percentile interval, None when every draw is the same value (degenerate) -- to
    rounding: sums of the same per-unit values in other orders differ in the last bits."""
    if not draws or max(draws) - min(draws) <= 1e-12 * max(1.0, abs(max(draws))):
        return None
    return percentile(draws)


def bootstrap(
    items: Sequence[T], statistic: Callable[[list[T]], float], seed: int = SEED, resamples: int = RESAMPLES
) -> Interval | None:
    """Percentile bootstrap of ``statistic`` over ``items`` (resampled with replacement); None for no
    items or a degenerate resample (every draw one value: see :data:`DEGENERATE`). A resample whose
    statistic is undefined (None or NaN) is skipped. ``statistic`` must not depend on the items'
    order (every aggregation here sums or averages over items): a resample drawn before -- the same
    multiset, common at small n (3 items have 10) -- reuses its value instead of re-running a corpus
    metric, so 2,000 resamples cost what the distinct ones cost."""
    if not items:
        return None
    rng = np.random.default_rng(seed)
    pool = list(items)
    draws = []
    seen: dict[tuple[int, ...], float | None] = {}
    for _ in range(resamples):
        drawn = tuple(sorted(rng.integers(0, len(pool), len(pool)).tolist()))
        if drawn not in seen:
            seen[drawn] = statistic([pool[i] for i in drawn])
        value = seen[drawn]
        if value is not None and value == value:
            draws.append(float(value))
    return _spread(draws)


def bootstrap_sums(
    rows: np.ndarray,
    finish: Callable[[np.ndarray], float | None],
    seed: int = SEED,
    resamples: int = RESAMPLES,
) -> Interval | None:
    """Percentile bootstrap of a statistic that is ``finish`` of column sums of per-unit ``rows``
    (:class:`medbench.core.additive.Additive`): each resample's sums are its draw counts times the rows,
    so no metric is re-run. Same resampling, seed and degenerate rule as :func:`bootstrap`."""
    rows = np.asarray(rows, dtype=float)
    if not len(rows):
        return None
    n = len(rows)
    drawn = np.random.default_rng(seed).integers(0, n, (resamples, n))
    counts = np.zeros((resamples, n))
    np.add.at(counts, (np.repeat(np.arange(resamples), n), drawn.ravel()), 1)
    draws = [finish(totals) for totals in counts @ rows]
    return _spread([float(v) for v in draws if v is not None and v == v])


def bootstrap_mean(
    values: Sequence[float], seed: int = SEED, resamples: int = RESAMPLES
) -> tuple[Interval | None, str]:
    """Percentile bootstrap of a mean (vectorised) and its method; a constant sample has no
    resampling interval (None, :data:`DEGENERATE`)."""
    data = np.asarray(values, dtype=float)
    if not len(data):
        return None, ""
    draws = data[np.random.default_rng(seed).integers(0, len(data), (resamples, len(data)))].mean(axis=1)
    interval = _spread(list(draws))
    return interval, BOOTSTRAP if interval else DEGENERATE
