"""Rubrics (data in ``judges/<name>.yaml``) and reading a judge's reply: the verdict a pairwise reply
ends on, the score a pointwise reply gives, and how the two orders of one pair combine."""

from __future__ import annotations

import re

from medbench.config.plugin_files import Rubric
from medbench.plugins import load_plugin

OUTCOMES = ("win", "tie", "loss")
FLIP = {"win": "loss", "loss": "win", "tie": "tie"}


def load_rubric(name: str) -> dict:
    return load_plugin("judges", name, "rubric", Rubric)


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


#: what may stand between an answer's name and the label given to it (``回答1：胜``, ``Answer1: Win``,
#: ``回答2的结果是“负”``)
_ATTACH = r"[\s:：是为的结果判定评价\"“”'「」*\-—]{0,8}"

#: the answers' names when a rubric declares none (its prompts call them so)
DEFAULT_NAMES = ("Answer1", "Answer2")


def _name(name: str) -> str:
    """An answer's name, spaced or not before its number (``回答 1``, ``Answer1``)."""
    head, number = re.fullmatch(r"(.*?)\s*(\d*)", name).groups()
    return re.escape(head) + (rf"\s*{number}(?!\d)" if number else "")


def parse_verdict(reply: str, labels: dict[str, str], names: list[str] | None = None) -> str | None:
    """Answer 1's result relative to answer 2, read as the rubrics' output format asks (a label alone).

    - A line that gives a label to one answer by name (``回答1：胜``, ``Answer2: Lose``) rates that
      answer: answer 2's label is flipped to answer 1's side. Every such rating, and the reply's
      last free-standing label, must agree (``回答1：胜`` then ``回答2：负`` is a win; ``回答1：胜``
      then ``回答2：胜`` is unreadable).
    - Otherwise the last line naming a label decides, as the rubric's format says, and it must name
      exactly one outcome (a line naming both answers, ``回答1相对于回答2：胜``, is answer 1's result).
    - A label inside a word never counts. Anything ambiguous is None (asked again, then a parse
      failure).
    """
    answer_names = [_name(n) for n in (names or DEFAULT_NAMES)]
    plain = {label: _standalone(label) for label in labels}
    rated: set[str] = set()
    last: set[str] | None = None
    for line in (reply or "").splitlines():
        found = {labels[label] for label, pat in plain.items() if re.search(pat, line, re.IGNORECASE)}
        if not found:
            continue
        named = [i for i, n in enumerate(answer_names) if re.search(n, line, re.IGNORECASE)]
        attached = {
            (i, labels[label])
            for i in named
            for label, pat in plain.items()
            if re.search(answer_names[i] + _ATTACH + pat, line, re.IGNORECASE)
        }
        if attached and {i for i, _ in attached} == set(named):  # each named answer given its label
            rated |= {outcome if i == 0 else FLIP[outcome] for i, outcome in attached}
        else:
            last = found
    if rated:
        if len(rated) > 1 or (last is not None and last != rated):
            return None
        return rated.pop()
    return last.pop() if last and len(last) == 1 else None


def score_of(pattern: re.Pattern, text: str) -> str | None:
    """A pointwise score: the pattern's distinct captures must agree (one score), else None."""
    found = set(pattern.findall(text or ""))
    return found.pop() if len(found) == 1 else None


def combine(first: str | None, second_flipped: str | None) -> str | None:
    """Both orders, from A's side: agreement stands, disagreement is a tie; a failed order -> None."""
    if first is None or second_flipped is None:
        return None
    return first if first == second_flipped else "tie"
