"""A judge's biases, measured on its own verdicts: does the longer answer win, does the first seat
win, does the verdict flip when the answers swap seats, does it judge a model of its own family.

On FastChat's shipped GPT-4 pairwise judgments the longer answer wins 68%, and 13% of verdicts flip
with the order (FastChat #3911): a judge report that does not say how its judge behaves on these
axes asks to be trusted blind. Each verdict is read in its own seats (answer 1 against answer 2, as
the judge saw them); ties are counted, and the rates below are over decisive verdicts.

- Length: the longer answer's win rate, binned by the length gap, and the slope of a logistic
  regression of "answer 1 wins" on the length gap (per 100 characters; the intercept absorbs the
  first-seat preference). A judge that always picks the longer answer separates the data perfectly,
  where maximum likelihood has no finite slope: the fit is scikit-learn's L2-regularised one, and the
  slope's interval a bootstrap over items.
- Position: the first seat's win rate (Wilson interval) and the share of items whose two orders
  disagree.
- Self-preference: a flag when the judge is one of the judged models, or is declared (``family=``)
  to share a family with one.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from medbench.analysis import intervals
from medbench.config.record import RunRecord
from medbench.core.errors import MedbenchError

#: the length-gap bins (characters, |answer 1 - answer 2|): upper edges, the last open
BINS = (50, 200, 500)
PER = 100.0  # the slope's unit: 100 characters


def _bin(gap: int) -> str:
    low = 0
    for high in BINS:
        if gap < high:
            return f"{low}-{high - 1}"
        low = high
    return f"{low}+"


def bin_order(label: str) -> int:
    """A length bin's place in order (its lower edge)."""
    return int(label.split("-")[0].rstrip("+"))


def _slope(seated: list[tuple[str, int, bool]]) -> float | None:
    """The logistic slope of "answer 1 wins" on the length gap per 100 characters (None when the
    verdicts are all one way, or the gap never varies)."""
    from sklearn.linear_model import LogisticRegression

    x = np.array([[gap / PER] for _, gap, _ in seated])
    y = np.array([won for *_, won in seated])
    if len(set(y.tolist())) < 2 or len(set(x[:, 0].tolist())) < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(LogisticRegression().fit(x, y).coef_[0][0])


def seat_bias(seated: list[tuple[str, str | None, int]], consistency: float | None, seed: int) -> dict:
    """Length and position diagnostics of one judge on one dimension. ``seated``: (item, answer 1's
    outcome as the judge said it -- None when unreadable --, len(answer 1) - len(answer 2))."""
    read = [(item, v, gap) for item, v, gap in seated if v is not None]
    decisive = [(item, gap, v == "win") for item, v, gap in read if v != "tie"]
    first = sum(won for *_, won in decisive)
    uneven = [(gap, won) for _, gap, won in decisive if gap != 0]
    longer = sum((gap > 0) == won for gap, won in uneven)
    bins: dict[str, dict] = {}
    for gap, won in uneven:
        b = bins.setdefault(_bin(abs(gap)), {"n": 0, "longer_won": 0})
        b["n"] += 1
        b["longer_won"] += (gap > 0) == won
    for b in bins.values():
        b["rate"] = b["longer_won"] / b["n"]
    by_item: dict[str, list] = {}
    for item, gap, won in decisive:
        by_item.setdefault(item, []).append((item, gap, won))
    slope = _slope(decisive)
    ci = None
    if slope is not None:
        groups = list(by_item.values())
        ci = intervals.bootstrap(groups, lambda g: _slope([s for group in g for s in group]), seed, 300)
    return {
        "verdicts": len(seated),
        "unreadable": len(seated) - len(read),
        "ties": len(read) - len(decisive),
        "decisive": len(decisive),
        "first_position_win_rate": first / len(decisive) if decisive else None,
        "first_position_ci95": _listed(intervals.proportion(first, len(decisive))),
        "order_flip_rate": None if consistency is None else 1 - consistency,
        "longer_win_rate": longer / len(uneven) if uneven else None,
        "longer_win_ci95": _listed(intervals.proportion(longer, len(uneven))),
        "length_bins": dict(sorted(bins.items(), key=lambda kv: bin_order(kv[0]))),
        "length_slope_per_100_chars": slope,
        "length_slope_ci95": _listed(ci),
    }


def _listed(interval) -> list[float] | None:
    return list(interval) if interval else None


def judged_models(run: str) -> set[str]:
    """What names a run's model: its config's ``model`` and a served model's name (model.json)."""
    names, record = set(), RunRecord.open(run)
    for file, key in (("config.json", "model"), ("model.json", "model_name")):
        try:
            value = record.object(file, "what names its model").get(key)
        except MedbenchError:
            continue
        if isinstance(value, str) and value:
            names.add(value)
    return names


def self_preference(model: str, family: str | None, runs: list[str]) -> dict | None:
    """Which judged model (``a`` or ``b``) the judge is, or shares its declared family with, and why."""
    own = Path(model).name.lower()
    for side, run in zip(("a", "b"), runs, strict=True):
        for name in judged_models(run):
            if Path(name).name.lower() == own:
                return {"model": side, "why": f"the judge is the judged model {Path(name).name}"}
            if family and family.lower() in name.lower():
                return {"model": side, "why": f"declared family '{family}' matches {Path(name).name}"}
    return None
