"""Decision margins of log-likelihood multiple choice: how close each answer was to going the other way.

Each loglik MC sample records the margin between its top two options (nats). An item whose margin is
below the backend's run-to-run noise is **fragile**: another backend, batch size or kernel could flip
it. Per task, results count the fragile items and give the accuracy range between all of them going
wrong and all of them going right -- a gap between two models inside that range is not a finding.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from medbench.analysis import intervals
from medbench.analysis.plugin import Analysis, Context, Finding
from medbench.analysis.summary import Score
from medbench.core import units
from medbench.core.safe_cells import markdown_lines

FRAGILE = "fragile_rate"


def margin(logliks: list[float]) -> float | None:
    """Top option's log-likelihood minus the runner-up's (None with fewer than two options)."""
    top = sorted(logliks, reverse=True)
    return top[0] - top[1] if len(top) > 1 else None


@dataclass
class Fragility:
    task: str
    threshold: float
    n: int  # scored questions with a margin (units: a --circular question once)
    fragile: int  # questions with a fragile decision
    # question-weighted counts (a rotation of a k-option question counts 1/k): right, right and
    # fragile, fragile wrong with the gold option within the threshold of the top
    correct: float
    fragile_correct: float
    recoverable: float = 0

    @property
    def low(self) -> float:
        """Accuracy if every fragile item went wrong."""
        return (self.correct - self.fragile_correct) / self.n

    @property
    def high(self) -> float:
        """Accuracy if every fragile item that can flip right did: a wrong item flips right only when
        its gold option, not merely the runner-up, is within the threshold of the top."""
        return (self.correct + self.recoverable) / self.n

    def score(self) -> Score:
        low, high = intervals.proportion(self.fragile, self.n) or (None, None)
        convention = f"margin < {self.threshold:g} nats"
        return Score(
            self.task,
            FRAGILE,
            self.fragile / self.n,
            self.n,
            None,
            convention,
            [],
            0,
            0,
            0,
            low,
            high,
            intervals.WILSON,
        )


def _recoverable(record: dict, threshold: float) -> bool:
    """A wrong item whose gold option's log-likelihood is within ``threshold`` of the chosen one's."""
    raw, gold = record.get("raw"), record.get("gold")
    if record.get("correct") or not isinstance(raw, dict) or not isinstance(gold, str) or gold not in raw:
        return False
    values = [v for v in raw.values() if isinstance(v, float | int)]
    return bool(values) and isinstance(raw[gold], float | int) and max(values) - raw[gold] < threshold


def summarise(records: dict[str, list[dict]], threshold: float) -> list[Fragility]:
    """Per task with loglik MC samples (a ``margin``): the fragile items under ``threshold``."""
    out = []
    for task, items in records.items():
        scored = [r for r in items if isinstance(r.get("margin"), float | int) and "error" not in r]
        if not scored:
            continue
        # the unit is the question: a --circular question's rotations weigh 1/k each, and the question
        # is fragile if any of its rotations is (medbench.core.units)
        whole = [group for group in units.by_unit(scored).values() if units.complete(group)]
        found = Fragility(task, threshold, len(whole), 0, 0, 0, 0)
        for group in whole:
            weight = 1 / len(group)
            fragile = [r for r in group if r["margin"] < threshold]
            found.fragile += bool(fragile)
            found.correct += weight * sum(bool(r.get("correct")) for r in group)
            found.fragile_correct += weight * sum(bool(r.get("correct")) for r in fragile)
            found.recoverable += weight * sum(_recoverable(r, threshold) for r in fragile)
        if found.n:
            out.append(found)
    return out


def record(found: list[Fragility]) -> list[dict]:
    return [{**asdict(f), "acc_if_fragile_wrong": f.low, "acc_if_fragile_right": f.high} for f in found]


def markdown(found: list[Fragility]) -> str:
    """Per task: fragile items and the accuracy range they span (x100); only tasks that have some."""
    shown = [f for f in found if f.fragile]
    if not shown:
        return ""
    rows = [[f.task, f.n, f.fragile, f"{100 * f.low:.2f} - {100 * f.high:.2f}"] for f in shown]
    lines = [
        "",
        f"Fragile items (top two options within {shown[0].threshold:g} nats, the backend's noise):",
        "",
    ]
    lines += markdown_lines(["Task", "Items", "Fragile", "acc if they go wrong - right"], rows, "lrrr")
    return "\n".join(lines) + "\n"


class _Margins(Analysis):
    """Log-likelihood MC: items decided by less than the backend's noise, and the accuracy they span."""

    name = "margins"
    order = 40

    def run(self, context: Context) -> Finding:
        found = summarise(context.records, context.margin_noise)
        files = {"margins.json": record(found)} if found else {}
        return Finding([f.score() for f in found], files, markdown(found))


ANALYSIS = _Margins()
