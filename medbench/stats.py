"""Bootstrap intervals, shared by the judge (win/tie/loss rates), bias scales (means) and the arena
(ratings): resample items with replacement, recompute, take the 2.5th and 97.5th percentiles."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def resamples(items: Sequence[T], seed: int, iterations: int) -> Iterator[list[T]]:
    """``iterations`` resamples of ``items`` (same size, with replacement), reproducible from ``seed``."""
    rng = random.Random(seed)
    for _ in range(iterations):
        yield rng.choices(items, k=len(items))


def interval(values: list[float]) -> list[float]:
    """The 95% percentile interval of bootstrap values."""
    ordered = sorted(values)
    return [ordered[int(0.025 * len(ordered))], ordered[int(0.975 * len(ordered)) - 1]]


def bootstrap(
    items: Sequence[T], statistics: dict[str, Callable[[list[T]], float]], seed: int, iterations: int = 2000
) -> dict[str, list[float]]:
    """95% intervals of several statistics, each computed on the same resamples."""
    draws: dict[str, list[float]] = {name: [] for name in statistics}
    for sample in resamples(items, seed, iterations):
        for name, statistic in statistics.items():
            draws[name].append(statistic(sample))
    return {name: interval(values) for name, values in draws.items()}
