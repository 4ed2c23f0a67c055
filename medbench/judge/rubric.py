"""Rubrics (data in ``judges/<name>.yaml``) and reading a judge's reply: the verdict a pairwise reply
ends on, the score a pointwise reply gives, and how the two orders of one pair combine."""

from __future__ import annotations

import re

from medbench.plugins import load_plugin

OUTCOMES = ("win", "tie", "loss")
FLIP = {"win": "loss", "loss": "win", "tie": "tie"}


def load_rubric(name: str) -> dict:
    return load_plugin("judges", name, "rubric")


def question_text(record: dict, lang: str) -> str:
    """The patient's question, with the dialogue history before it for multi-turn tasks."""
    roles = {"zh": ("患者：", "医生："), "en": ("Patient: ", "Doctor: ")}[lang]
    turns = [f"{roles[0] if r == 'patient' else roles[1]}{t}" for r, t in record.get("history") or []]
    return "\n".join([*turns, f"{roles[0]}{record['question']}"]) if turns else record["question"]


_CJK = "\u3400-\u9fff\uf900-\ufaff"


def _standalone(label: str) -> str:
    """A label as a whole token: a Latin label not inside a Latin word, a Chinese one not inside a
    Chinese word (``胜`` in ``回答1胜`` is a verdict; in ``胜任``, like ``平`` in ``水平``, it is not)."""
    letters = "A-Za-z" if label.isascii() else _CJK
    return rf"(?<![{letters}]){re.escape(label)}(?![{letters}])"


def parse_verdict(reply: str, labels: dict[str, str]) -> str | None:
    """The verdict a reply ends on, following the rubrics' output format (the label alone, at the end).

    The last line that names a label as a whole token decides, and it must name exactly one outcome;
    a label inside a word never counts. Anything else is None (asked again, then a parse failure).
    """
    patterns = {outcome: [] for outcome in labels.values()}
    for label, outcome in labels.items():
        patterns[outcome].append(re.compile(_standalone(label), re.IGNORECASE))
    for line in reversed((reply or "").splitlines()):
        found = {o for o, pats in patterns.items() if any(p.search(line) for p in pats)}
        if found:
            return found.pop() if len(found) == 1 else None
    return None


def score_of(pattern: re.Pattern, text: str) -> str | None:
    """A pointwise score: the pattern's distinct captures must agree (one score), else None."""
    found = set(pattern.findall(text or ""))
    return found.pop() if len(found) == 1 else None


def combine(first: str | None, second_flipped: str | None) -> str | None:
    """Both orders, from A's side: agreement stands, disagreement is a tie; a failed order -> None."""
    if first is None or second_flipped is None:
        return None
    return first if first == second_flipped else "tie"
