"""CircularEval (``--circular``): every multiple-choice question asked under each cyclic rotation of its
options, so a model that prefers a letter cannot pass for one that knows the answer.

Rotation k of a question with n options puts option ``(i + k) mod n`` at letter i; the answer set moves
with its options (CMExam's multi-answer items too). Only the evaluated split is rotated -- the few-shot
block stays the benchmark's own -- and the rotations of one question sit next to each other, so a
backend that shares prefixes (``hf-fast``, vLLM's prefix cache) runs the few-shot block and the stem
once. lm-eval scores every rotation as an item (plain accuracy: the mean over rotations); this module
adds, per task, the **circular accuracy** (right under every rotation), the share of questions whose
chosen option changes with the order, and the letters chosen beside the gold letters (a position-bias
histogram).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from medbench.analysis import intervals
from medbench.analysis.plugin import Analysis, Context, Finding
from medbench.analysis.summary import Score
from medbench.core.safe_cells import markdown_lines

ACC = "circular_acc"
ORIGIN = "acc_origin"  # right under the benchmark's own option order (rotation 0)
CHANGED = "answer_changed_rate"
UNPARSED = "?"  # a reply that named no option letter, counted once
CONVENTION = "circular"  # the row of a task's circular scores (n: questions, not rotated items)


def _letters(value: object, n: int) -> list[str]:
    """The option letters a reply (or gold answer) names; a value that is not made of the item's
    option letters (``[unparsed]``, text) names none."""
    options = {chr(65 + i) for i in range(n)}
    if isinstance(value, str) and value and set(value) <= options:
        return sorted(set(value))
    return []


def _chosen(record: dict) -> str:
    picked = record.get("extracted")
    return picked if isinstance(picked, str) else ""


def _original(letters: str, record: dict, n: int) -> frozenset[int]:
    """The original option indices behind letters chosen under a record's order (its ``order``; a
    folder written before orders were recorded: the cyclic rotation)."""
    order = record.get("order")
    if not (isinstance(order, list) and len(order) == n):
        order = [(i + record["rotation"]) % n for i in range(n)]
    return frozenset(order[ord(c) - 65] for c in letters if "A" <= c < chr(65 + n))


@dataclass
class Circular:
    """One task's circular results: over the questions whose every rotation was scored."""

    task: str
    questions: int
    right_every_time: int
    changed: int
    incomplete: int  # questions with a rotation that failed (left out)
    right_at_origin: int = 0  # right under the benchmark's own order
    # OpenCompass's "right in at least j of k": j -> questions right under at least j rotations
    at_least: Counter = field(default_factory=Counter)
    chosen: Counter = field(default_factory=Counter)  # letter -> how many replies chose it
    gold: Counter = field(default_factory=Counter)  # letter -> how many rotated items have it as gold
    replies: int = 0

    def record(self) -> dict:
        """circular.json's entry: the counts and both histograms."""
        counts = {k: v for k, v in asdict(self).items() if k != "at_least"}  # asdict garbles a Counter
        return {
            **counts,
            "chosen": dict(sorted(self.chosen.items())),
            "gold": dict(sorted(self.gold.items())),
            "right_in_at_least": {str(j): self.at_least[j] for j in sorted(self.at_least)},
        }

    def scores(self) -> list[Score]:
        out = []
        counts = ((ACC, self.right_every_time), (ORIGIN, self.right_at_origin), (CHANGED, self.changed))
        for metric, k in counts:
            interval = intervals.proportion(k, self.questions)
            value = k / self.questions if self.questions else None
            score = Score(
                self.task, metric, value, self.questions, convention=CONVENTION, n_failed=self.incomplete
            )
            if interval:
                score.ci_low, score.ci_high, score.ci_method = *interval, intervals.WILSON
            out.append(score)
        return out


def summarise(records: dict[str, list[dict]]) -> list[Circular]:
    """Per task, from its per-sample records (:func:`medbench.run.rundir.sample_record`, with ``rotation``
    and ``circular_of``); records with an ``error`` make their question incomplete."""
    out = []
    for task, items in records.items():
        groups: dict[str, list[dict]] = {}
        for r in items:
            if "rotation" in r:
                groups.setdefault(str(r["circular_of"]), []).append(r)
        if not groups:
            continue
        result = Circular(task, 0, 0, 0, 0)
        for group in groups.values():
            asked = int(group[0].get("rotations") or 0)  # orders: n cyclic, or n! under --circular-orders all
            n = len(group[0].get("order") or []) or asked  # options
            if len(group) != asked or any("error" in r for r in group):
                result.incomplete += 1
                continue
            result.questions += 1
            result.right_every_time += all(r.get("correct") for r in group)
            result.right_at_origin += any(r["rotation"] == 0 and r.get("correct") for r in group)
            right = sum(bool(r.get("correct")) for r in group)
            result.at_least.update({j: 1 for j in range(1, asked + 1) if right >= j})
            result.at_least.update({j: 0 for j in range(1, asked + 1)})
            picks = {_original(_chosen(r), r, n) for r in group}
            result.changed += len(picks) > 1
            for r in group:
                result.replies += 1
                result.chosen.update(_letters(_chosen(r), n) or [UNPARSED])
                result.gold.update(_letters(r.get("gold"), n))
        out.append(result)
    return out


def markdown(results: list[Circular]) -> str:
    """The circular table and the position-bias histogram (chosen vs gold letter shares)."""
    if not results:
        return ""
    letters = sorted({c for r in results for c in (*r.chosen, *r.gold)} - {UNPARSED})
    rows = []
    for r in results:  # both shares per rotated item: a multiple answer names several letters
        cells = [
            f"{100 * r.chosen[x] / r.replies:.0f} / {100 * r.gold[x] / r.replies:.0f}" if r.replies else ""
            for x in letters
        ]
        acc = f"{100 * r.right_every_time / r.questions:.2f}" if r.questions else "n/a"
        changed = f"{100 * r.changed / r.questions:.2f}" if r.questions else "n/a"
        origin = f"{100 * r.right_at_origin / r.questions:.2f}" if r.questions else "n/a"
        rows.append([r.task, r.questions, r.incomplete, acc, origin, changed, *cells])
    lines = ["", "CircularEval (--circular): each question under every rotation of its options", ""]
    lines += markdown_lines(
        ["Task", "Questions", "Incomplete", ACC, ORIGIN, CHANGED, *(f"{c} % chosen/gold" for c in letters)],
        rows,
        "lrrrrr" + "r" * len(letters),
    )
    lines.append(
        "circular_acc: right under every rotation; acc_origin: right under the benchmark's own order; "
        "answer_changed_rate: the chosen option depends on the "
        "order; X % chosen/gold: the share of replies naming letter X, beside the share of rotated items "
        "whose answer names X (a multiple answer names several letters, so the gold shares can sum past "
        "100; a reply naming no option letter is counted in no column). Incomplete: questions with a "
        "failed rotation (left out of every score, acc included)."
    )
    return "\n".join(lines) + "\n"


class _Circular(Analysis):
    """``--circular``: per task, circular accuracy over questions, changed answers, the letters chosen."""

    name = "circular"
    order = 10

    def applies(self, context: Context) -> bool:
        return bool(context.config.circular)

    def run(self, context: Context) -> Finding:
        rotated = summarise(context.records)
        files = {"circular.json": [result.record() for result in rotated]} if rotated else {}
        return Finding([s for result in rotated for s in result.scores()], files, markdown(rotated))


ANALYSIS = _Circular()
