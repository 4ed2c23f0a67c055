"""The letters a run's multiple-choice replies name: a warning when most name one option, since the
score then measures a letter preference more than knowledge (``--circular`` tells the two apart)."""

from __future__ import annotations

from collections import Counter

from medbench.analysis.plugin import Analysis, Context, Finding


def letter_shares(records: dict[str, list[dict]]) -> Counter:
    """The letters a run's multiple-choice replies named, over every task's per-sample records (a
    reply naming one option letter; other tasks' records are not counted)."""
    shares: Counter = Counter()
    for items in records.values():
        for record in items:
            picked = record.get("extracted")
            if "correct" in record and isinstance(picked, str) and len(picked) == 1 and picked.isupper():
                shares[picked] += 1
    return shares


def one_letter(records: dict[str, list[dict]], bar: float = 0.9, least: int = 5) -> str | None:
    """A warning when most multiple-choice replies name the same letter: the score then measures a
    letter preference more than knowledge (``--circular`` tells the two apart); else None."""
    shares = letter_shares(records)
    total = sum(shares.values())
    if total < least:
        return None
    letter, count = shares.most_common(1)[0]
    if count / total < bar:
        return None
    return (
        f"{100 * count / total:.0f}% of {total} multiple-choice replies name option {letter}: these scores "
        "measure a letter preference more than knowledge; --circular tells the two apart"
    )


class _Letters(Analysis):
    name = "letters"
    order = 50

    def run(self, context: Context) -> Finding:
        warning = one_letter(context.records)
        return Finding(warnings=[warning] if warning else [])


ANALYSIS = _Letters()
