"""Rubrics (data in ``judges/<name>.yaml``) and reading a judge's reply: the verdict a pairwise reply
ends on, the score a pointwise reply gives, and how the two orders of one pair combine."""

from __future__ import annotations

import re

from medbench.config.plugin_files import Rubric
from medbench.config.plugins import load_plugin
from medbench.judge import answer_refs

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


def _labels_in(line: str, labels: dict[str, str], named: list[answer_refs.Ref]) -> list[tuple[int, int, str]]:
    """Where a line names a label as a whole token, and its outcome: a Latin label not inside a Latin
    word, a Chinese one not inside a Chinese word (``胜`` in ``回答1胜`` is a verdict; in ``胜任``,
    like ``平`` in ``水平``, it is not) -- unless the word before it is an answer's name
    (``回答二胜``)."""
    hits = []
    for label, outcome in labels.items():
        letters = "A-Za-z" if label.isascii() else _CJK
        for m in re.finditer(rf"{re.escape(label)}(?![{letters}])", line, re.IGNORECASE):
            inside = m.start() > 0 and re.match(f"[{letters}]", line[m.start() - 1])
            if not inside or answer_refs.owner(named, line, m.start()):
                hits.append((m.start(), m.end(), outcome))
    return sorted(hits)


#: the answers' names when a rubric declares none (its prompts call them so)
DEFAULT_NAMES = ("Answer1", "Answer2")


def parse_verdict(reply: str, labels: dict[str, str], names: list[str] | None = None) -> str | None:
    """Answer 1's result relative to answer 2, read as the rubric's output format asks (a label alone),
    or None (asked again, then a parse failure) -- never a guess.

    - A label given to an answer by name rates that answer, however the judge names it
      (``回答1：胜``, ``回答二：负``, ``Second answer: Lose``, ``[[B]]: Win``, ``回答2相对回答1：胜``:
      see :mod:`medbench.judge.answer_refs`): answer 2's label is flipped to answer 1's side. Every
      such rating, and the reply's last free-standing label, must agree (``回答1：胜`` then
      ``回答2：胜`` is unreadable; so is a win given to both answers, ``回答1与回答2：胜``).
    - Otherwise the last line naming a label decides, as the rubric's format says, and it must name
      exactly one outcome.
    - A label whose owner the sentence leaves in doubt makes the reply unreadable: after a sentence
      about answer 2 (``回答2更好，胜``: whose win?), after two names joined by words that are no known
      comparison (``回答1输给回答2：负``), before an answer's name (``胜：回答2``), after an answer
      that is neither (``回答3``) or one named in a way not known (``候选2：胜``, ``后者：胜``).
    - A label inside a word, or a label word in a sentence about an answer named after it (``A Tie
      would understate Answer1``), is no verdict.
    """
    answer_names = tuple(names or DEFAULT_NAMES)
    rated: set[str] = set()
    last: set[str] | None = None
    for text in (reply or "").splitlines():
        line = answer_refs.Line(text, answer_names)
        free: set[str] = set()
        since = 0
        for start, end, outcome in _labels_in(text, labels, line.named):
            whose, since = line.whose(since, start, end), end
            if whose is None:
                return None
            if whose == answer_refs.FREE:
                free.add(outcome)
            elif whose == answer_refs.BOTH:
                rated.update((outcome, FLIP[outcome]))
            elif whose != answer_refs.NONE:
                rated.add(outcome if whose == 0 else FLIP[outcome])
        if free:
            last = free
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
