"""Agreement between raters -- the judges of a jury, human raters, a judge and the humans' label:
Cohen's kappa per pair, Fleiss' kappa and Krippendorff's alpha across all, each with a bootstrap
interval over the rated units. The statistics are statsmodels' and krippendorff's, not formulas
written here; this module only lays the labels out as those libraries take them.

A unit is what one label is given to: an (item) for a pairwise verdict, an (item, answer) for a
pointwise score. A statistic that is undefined on the data (every label the same category, fewer
than two units) is None, never a number guessed for it.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Hashable, Sequence

import numpy as np

from medbench.analysis import intervals

#: resamples of an agreement interval (each a kappa or alpha: cheap, but many per report)
RESAMPLES = 500

Labels = dict[str, dict[Hashable, object]]  # rater -> unit -> label


def _finite(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def cohen(pairs: Sequence[tuple[object, object]], categories: Sequence) -> float | None:
    """Cohen's kappa of two raters' labels on the same units (statsmodels)."""
    from statsmodels.stats.inter_rater import cohens_kappa

    if len(pairs) < 2:
        return None
    index = {c: i for i, c in enumerate(categories)}
    table = np.zeros((len(categories), len(categories)))
    for first, second in pairs:
        table[index[first], index[second]] += 1
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _finite(cohens_kappa(table, return_results=False))


def fleiss(rows: Sequence[Sequence[object]], categories: Sequence) -> float | None:
    """Fleiss' kappa of units each labelled by the same number of raters (statsmodels)."""
    from statsmodels.stats.inter_rater import fleiss_kappa

    if len(rows) < 2:
        return None
    table = np.array([[list(row).count(c) for c in categories] for row in rows], dtype=float)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _finite(fleiss_kappa(table))


def alpha(units: Sequence[dict[str, object]], raters: Sequence[str], categories: Sequence, level: str):
    """Krippendorff's alpha (``nominal`` or ``ordinal``) of units labelled by any of the raters; a
    missing label is missing, not a category (krippendorff)."""
    import krippendorff

    index = {c: i for i, c in enumerate(categories)}
    data = np.array(
        [[index[u[r]] if r in u else np.nan for u in units] for r in raters],
        dtype=float,
    )
    pairable = int(np.sum(np.sum(~np.isnan(data), axis=0) >= 2))
    if pairable < 2 or len({v for v in data.flatten() if not np.isnan(v)}) < 2:
        return None
    with np.errstate(all="ignore"):
        return _finite(
            krippendorff.alpha(
                reliability_data=data, level_of_measurement=level, value_domain=list(range(len(categories)))
            )
        )


def _with_interval(units: list, statistic, seed: int) -> dict:
    value = statistic(units)
    ci = intervals.bootstrap(units, statistic, seed, RESAMPLES) if value is not None else None
    return {"value": value, "ci95": list(ci) if ci else None, "n": len(units)}


def kappa(pairs: list[tuple[object, object]], categories: Sequence, seed: int = 0) -> dict:
    """Cohen's kappa of two raters' labels on shared units, with its interval and n."""
    return _with_interval(pairs, lambda s: cohen(s, categories), seed)


def agreement(labels: Labels, categories: Sequence, level: str = "nominal", seed: int = 0) -> dict:
    """Every pair's Cohen's kappa, Fleiss' kappa over the units all raters labelled and Krippendorff's
    alpha over every unit, each with its interval and n."""
    raters = list(labels)
    out: dict = {"raters": raters, "cohen": {}}
    for a, b in itertools.combinations(raters, 2):
        shared = [(labels[a][u], labels[b][u]) for u in labels[a] if u in labels[b]]
        out["cohen"][f"{a} vs {b}"] = kappa(shared, categories, seed)
    units = sorted({u for rated in labels.values() for u in rated}, key=str)
    by_unit = [{r: labels[r][u] for r in raters if u in labels[r]} for u in units]
    if len(raters) >= 2:
        complete = [[row[r] for r in raters] for row in by_unit if len(row) == len(raters)]
        out["fleiss"] = _with_interval(complete, lambda s: fleiss(s, categories), seed)
        out["alpha"] = _with_interval(by_unit, lambda s: alpha(s, raters, categories, level), seed)
        out["alpha"]["level"] = level
    return out
