"""The ``cmexam-official`` accuracy: CMExam answer prediction scored as CMExam's own scripts score it
(``src/evaluation/evaluate_chatglm_result.py`` and ``evaluate_gpt_result.py`` in williamliujl/CMExam;
Qilin-Med's ``eval/CMExam`` is a copy), beside medbench's default ``acc`` on the ``cmexam`` task.

What those scripts compute, and so what this does:

* the predicted answer is ``re.findall(r"答案：(.*)，", reply)[0]``: the text after ``答案：`` up to the
  last ``，`` on that line (a reply without one has no answer, ``""``); the same ``try`` reads the
  explanation, ``re.findall(r"解释：(.*)", reply)[0]``, so a reply without ``解释：`` has no answer
  either (``答案：A，`` alone is left out);
* the predictions go through a CSV and ``pandas.read_csv``, so an empty answer, and any text pandas
  reads as missing (``NA``, ``None``, ``nan`` ...), is NaN: **left out of the denominator**;
* the rest compare with the gold answer string exactly: ``BA`` for ``AB`` is wrong, so is ``A。``.

medbench's own protocol comes first: a reasoning model's thinking is removed before the reply is read
(a reply whose thinking was cut off has no answer). ``answered_rate`` says how many items the
accuracy rests on, and the score's ``n`` is those items (:data:`DENOMINATORS`).
"""

from __future__ import annotations

import re

from medbench.core.hooks import DEFAULT_TAGS, PLAIN, HookContext
from medbench.models import thinking
from medbench.models.thinking import Tags

_ANSWER = re.compile(r"答案：(.*)，")
_EXPLANATION = re.compile(r"解释：(.*)")
#: a metric whose denominator is not every item: the rate that says what share it rests on (its
#: score's ``n`` is that share of the items, so every number states what it rests on)
DENOMINATORS = {"acc_cmexam": "answered_rate"}
#: the convention each score of this metric carries (metrics.json, explain, the leaderboard)
CONVENTIONS = {
    "acc_cmexam": "cmexam-official: the answer between 答案： and the line's last ，, compared exactly; "
    "replies without one or without 解释： left out of the denominator (answered_rate) (CMExam script)"
}
#: the strings ``pandas.read_csv`` reads as missing by default (its documented ``na_values``)
PANDAS_NA = frozenset(
    {
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    }
)


def predicted(reply: str, tags: Tags = DEFAULT_TAGS) -> str | None:
    """The answer CMExam's script reads from a reply, or None where it reads none (NaN): its one
    ``try`` needs both the answer and the explanation."""
    part = thinking.split(reply or "", tags)
    found = _ANSWER.findall(part.answer) if not part.unfinished else []
    answer = found[0] if found and _EXPLANATION.search(part.answer) else ""
    return None if answer in PANDAS_NA else answer


def process_results(doc: dict, results: list[str], *, context: HookContext = PLAIN) -> dict:
    """lm-eval ``process_results``: per item (answered, correct) for :func:`accuracy` (the reply read
    after the run's thinking tags)."""
    answer = predicted(results[0], context.tags)
    return {
        "acc_cmexam": (answer is not None, answer == doc["answer"]),
        "answered_rate": float(answer is not None),
    }


def accuracy(items: list[tuple[bool, bool]]) -> float | None:
    """Correct over answered (CMExam's ``correct / total`` over the non-NaN predictions)."""
    answered = [correct for has_answer, correct in items if has_answer]
    return sum(answered) / len(answered) if answered else None
