"""The ``cmb-official`` convention: CMB-Exam scored as CMB's own code scores it (FreedomIntelligence/CMB
at 6c8ece46: ``src/utils.py`` ``match_choice`` and ``extract_ans``, then ``score.py``), beside
medbench's ``acc`` (its own extraction, micro and macro over the exam classes) on the ``cmb_exam_gen``
tasks. ``tests/test_cmb_official.py`` runs CMB's code itself on the same replies and equals this item
by item and score by score.

What CMB's code computes, and so what this does:

* the reply's answer is read by ``match_choice``: the first ``答案`` or ``正确选项`` followed by
  ``是``, ``：``, ``为``, ``应该是`` or ``应该为``, up to the next ``。``, ``.`` or the end; the letters
  A-G in that span, in the order written (``答案是D和B`` reads ``DB``). Without such a phrase, every
  letter A-G anywhere in the reply, in order (``The answer is A`` reads ``A``; so does a stray
  capital in English prose). The reading is CMB's, letters outside a question's options included;
* ``extract_ans``: a single-answer question (``question_type`` not ``多项选择题``) keeps the first
  letter read; a reply with no letter has the answer ``""``;
* ``score.py``: the answer is right only if it equals the answer file's string exactly (``BD`` is
  not ``DB``; the real answer file gives a few multiple answers out of order, ``EB``, which only a
  reply naming ``E`` before ``B`` matches); each exam class's accuracy is right over all its
  questions (a reply with no answer is wrong, never left out); an exam type's score is the
  unweighted mean of its classes' (``accuracy_per_category``).
* the overall (``acc_cmb``) is the unweighted mean of the exam types' scores: ``score.py`` stops at
  the exam types, and CMB's leaderboard column ``Avg`` averages them. A run over part of the test
  (``--limit``) averages the classes and types its questions cover.

medbench's own protocol comes first: a reasoning model's thinking is removed before the reply is
read (a reply whose thinking was cut off reads no answer).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from medbench.core.hooks import DEFAULT_TAGS, PLAIN, HookContext
from medbench.models import thinking
from medbench.models.thinking import Tags

#: ``match_choice``'s pattern and letters, verbatim
_ANSWER = re.compile(r"(答案|正确选项)(?:是|：|为|应该是|应该为)(.*?)(。|\.|$)", re.S)
OPTIONS = "ABCDEFG"
MULTIPLE = "多项选择题"
#: the exam types, by the name their score carries (``acc_cmb_<name>``), in CMB's order
EXAM_TYPES = {
    "physician": "医师考试",
    "nursing": "护理考试",
    "pharmacist": "药师考试",
    "technician": "医技考试",
    "discipline": "专业知识考试",
    "postgraduate": "医学考研",
}
#: the convention each score of this metric carries
CONVENTIONS = {
    "acc_cmb": "cmb-official: CMB's match_choice reading and exact answer strings; the mean of the exam "
    "types' scores, each the mean of its classes' accuracies (CMB's score.py, leaderboard Avg)",
    **{
        f"acc_cmb_{name}": f"cmb-official: {zh}, the mean of its exam classes' accuracies (CMB's score.py)"
        for name, zh in EXAM_TYPES.items()
    },
}


def match_choice(text: str) -> str:
    """The letters CMB's ``match_choice`` reads from a reply (its CoT and answer-only branches are one)."""
    found = _ANSWER.search(text)
    return "".join(x for x in (found.group(2) if found else text) if x in OPTIONS)


def model_answer(reply: str, question_type: str, tags: Tags = DEFAULT_TAGS) -> str:
    """The answer CMB's ``extract_ans`` keeps for one reply: the first letter of a single-answer
    question's reading; ``""`` for none (and for a reply whose thinking never ended)."""
    part = thinking.split(reply or "", tags)
    choice = "" if part.unfinished else match_choice(part.answer)
    return choice[0] if len(choice) > 1 and question_type != MULTIPLE else choice


def read_filter(resps: list[list[str]], docs: list[dict], *, context: HookContext = PLAIN) -> list[list[str]]:
    """lm-eval ``custom`` filter: each reply -> the answer CMB's ``extract_ans`` keeps (read after the
    run's thinking tags), so a per-sample record's ``extracted`` is what CMB compares. CMB's reading is
    the convention: an LLM extractor (``--extractor llm``) is not asked."""
    return [
        [model_answer(r, doc["fields"]["question_type"], context.tags) for r in replies]
        for replies, doc in zip(resps, docs, strict=True)
    ]


def process_results(doc: dict, results: list[str]) -> dict:
    """lm-eval ``process_results``: per item, right or wrong as ``score.py`` decides -- the answer read
    (:func:`read_filter`) equal to the answer file's string as given (``answer_as_given``; under
    ``--circular`` its letters moved with their options) -- as ``acc`` (the share of questions right,
    what ``compare``, ``--slice-by`` and ``--circular`` read), and (exam type, exam class, right) for
    every score of CMB's."""
    fields = doc["fields"]
    right = results[0] == doc["answer_as_given"]
    item = (fields["exam_type"], fields["exam_class"], right)
    # a reply CMB's reading finds no letter in: wrong, as score.py counts it, and counted as such
    return {"acc": float(right), "parse_fail_rate": float(results[0] == ""), **{m: item for m in CONVENTIONS}}


def type_scores(items: list[tuple[str, str, bool]]) -> dict[str, float]:
    """Each exam type's score: the unweighted mean of its classes' accuracies (``score.py``)."""
    classes: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for exam_type, exam_class, right in items:
        classes[exam_type][exam_class].append(right)
    return {
        exam_type: sum(sum(r) / len(r) for r in by_class.values()) / len(by_class)
        for exam_type, by_class in classes.items()
    }


def overall(items: list[tuple[str, str, bool]]) -> float | None:
    """``acc_cmb``: the unweighted mean of the exam types' scores."""
    scores = type_scores(items)
    return sum(scores.values()) / len(scores) if scores else None


@dataclass(frozen=True)
class TypeScore:
    """One exam type's score (an lm-eval aggregation), or None when the run has none of its questions.
    It rests on that type's questions only: :meth:`rests_on` tells the interval and the score's n
    which items those are (:mod:`medbench.analysis.score_intervals`)."""

    exam_type: str

    def __call__(self, items: list[tuple[str, str, bool]]) -> float | None:
        return type_scores(items).get(self.exam_type)

    def rests_on(self, doc: dict) -> bool:
        """Whether a question (its doc) is of this type: failed ones too, so each type counts its own."""
        return doc.get("fields", {}).get("exam_type") == self.exam_type


accuracy_physician = TypeScore(EXAM_TYPES["physician"])
accuracy_nursing = TypeScore(EXAM_TYPES["nursing"])
accuracy_pharmacist = TypeScore(EXAM_TYPES["pharmacist"])
accuracy_technician = TypeScore(EXAM_TYPES["technician"])
accuracy_discipline = TypeScore(EXAM_TYPES["discipline"])
accuracy_postgraduate = TypeScore(EXAM_TYPES["postgraduate"])
