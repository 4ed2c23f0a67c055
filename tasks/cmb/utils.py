"""CMB (FreedomIntelligence/CMB) in its official layouts, under ``<data-dir>/cmb/``:

- ``CMB-test/CMB-test-choice-question-merge.json``: a JSON list of questions (``id``, ``exam_type``,
  ``exam_class``, ``exam_subject``, ``question``, ``question_type``, ``option`` {letter: text}; the
  test file's ``answer`` is empty);
- ``CMB-test-choice-answer.json``: a JSON list of answers (``id``, ``exam_type``, ``exam_class``,
  ``exam_subject``, ``question_type``, ``answer``), joined to the questions by ``id``;
- ``CMB-test/CMB-test-choice-hierarchy.json``: how many questions each exam type and class has;
- ``CME-test-qa/CMB-test-qa.json``: CMB-Clin, a JSON list of cases (``id``, ``title``,
  ``description``, ``QA_pairs`` [{question, answer}]).

The join is checked whole before any item is scored, each failure one line: every question has
exactly one answer, every answer a question, and each exam class has the count the hierarchy file
gives. A question whose answer record names another exam class or question type is reported with
its file and record and never scored.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from medbench.core.errors import MedbenchError
from medbench.core.templates import render_template
from medbench.data import datareport, genread
from medbench.data.datasources import Row, check_file, read_text
from medbench.scoring import gen, mc

QUESTIONS = "cmb/CMB-test/CMB-test-choice-question-merge.json"
ANSWERS = "cmb/CMB-test-choice-answer.json"
HIERARCHY = "cmb/CMB-test/CMB-test-choice-hierarchy.json"
CLIN = "cmb/CME-test-qa/CMB-test-qa.json"
#: the hierarchy file's key for the totals (its own entry holds the grand total under the same key)
TOTAL = "总题量"
MULTIPLE = "多项选择题"
#: CMB-Exam's 28 exam classes (its hierarchy file's): exam type -> (its name in task names, {exam class:
#: its name in task names}); a file naming another class is not the release these tasks read
CLASSES = {
    "医师考试": (
        "physician",
        {
            "规培结业": "residency",
            "执业助理医师": "assistant",
            "执业医师": "licensed",
            "中级职称": "intermediate",
            "高级职称": "senior",
        },
    ),
    "护理考试": (
        "nursing",
        {
            "护士执业资格": "nurse",
            "护师执业资格": "senior_nurse",
            "主管护师": "charge",
            "高级护师": "advanced",
        },
    ),
    "药师考试": (
        "pharmacist",
        {
            "执业西药师": "licensed_western",
            "执业中药师": "licensed_tcm",
            "初级药士": "junior_assistant",
            "初级药师": "junior",
            "初级中药士": "junior_tcm_assistant",
            "初级中药师": "junior_tcm",
            "主管药师": "charge",
            "主管中药师": "charge_tcm",
        },
    ),
    "医技考试": ("technician", {"医技士": "assistant", "医技师": "technologist", "主管技师": "charge"}),
    "专业知识考试": (
        "discipline",
        {
            "基础医学": "basic_medicine",
            "临床医学": "clinical_medicine",
            "预防医学与公共卫生学": "preventive_medicine",
            "中医学与中药学": "tcm",
        },
    ),
    "医学考研": (
        "postgraduate",
        {"护理学": "nursing", "考研政治": "politics", "西医综合": "western_medicine", "中医综合": "tcm"},
    ),
}
KNOWN = {(exam_type, exam_class) for exam_type, (_, classes) in CLASSES.items() for exam_class in classes}
NOT_CMB = (
    "is not one of CMB-Exam's 28 exam classes (CLASSES in tasks/cmb/utils.py): not the release read here"
)
#: an answer as CMB's answer file gives it: the letters CMB's reading knows, in the file's own order
ANSWER = re.compile(r"[A-G]+")
#: the per-item fields kept for --slice-by and for CMB's own scoring (cmb-official)
FIELDS = ("exam_type", "exam_class", "exam_subject", "question_type")


def _json_list(path: Path, what: str) -> list:
    check_file(path, "cmb", what)
    return genread.json_list(path, what)


def _key(record: object, path: Path, number: int) -> int | str:
    """A record's ``id`` (an integer or a text, compared exactly: 7 and "7" are two ids)."""
    value = record.get("id") if isinstance(record, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise MedbenchError(f"{path} record {number}: field id: expected an integer or text id")
    return value


def answers(path: Path) -> dict[int | str, tuple[int, dict]]:
    """id -> (record number, answer record); an id given twice, or a record without a text
    ``answer``, is one line."""
    out: dict[int | str, tuple[int, dict]] = {}
    for number, record in enumerate(_json_list(path, "CMB's answers, official layout"), start=1):
        key = _key(record, path, number)
        if not isinstance(record.get("answer"), str):
            raise MedbenchError(f"{path} record {number}: field answer: expected the answer letters as text")
        if key in out:
            raise MedbenchError(
                f"{path}: id {key!r} has two answers (records {out[key][0]} and {number}); "
                "expected exactly one per question"
            )
        out[key] = (number, record)
    return out


def hierarchy(path: Path) -> dict[tuple[str, str], int]:
    """(exam type, exam class) -> the number of questions the hierarchy file gives it."""
    check_file(path, "cmb", "CMB's category counts, official layout")
    try:
        tree = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise MedbenchError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    counts = {}
    for exam_type, classes in tree.items() if isinstance(tree, dict) else [(None, None)]:
        if not isinstance(classes, dict) or not all(
            isinstance(n, int) and not isinstance(n, bool) for n in classes.values()
        ):
            raise MedbenchError(f"{path}: expected {{exam type: {{exam class: count}}}}, got {exam_type!r}")
        if exam_type != TOTAL:
            counts.update({(exam_type, exam_class): n for exam_class, n in classes.items()})
    for category in counts:
        if category not in KNOWN:
            raise MedbenchError(f"{path}: {'/'.join(category)} {NOT_CMB}")
    by_type = Counter()
    for (exam_type, _), n in counts.items():
        by_type[exam_type] += n
    for name, n in (tree.get(TOTAL) or {}).items():  # the totals entry: the grand total and each type's
        added = sum(counts.values()) if name == TOTAL else by_type.get(name, 0)
        if n != added:
            raise MedbenchError(
                f"{path}: {TOTAL} gives {name} {n} question(s); its classes add up to {added}"
            )
    return counts


def joined(questions: Path, root: Path) -> Iterator[Row]:
    """Every question row with its answer record under ``"_answer"``, after the whole join is checked."""
    answer_file, hierarchy_file = root / ANSWERS, root / HIERARCHY
    gold, expected = answers(answer_file), hierarchy(hierarchy_file)
    records = _json_list(questions, "CMB's questions, official layout")
    seen, counts = set(), Counter()
    for number, record in enumerate(records, start=1):
        key = _key(record, questions, number)
        if key not in gold:
            raise MedbenchError(
                f"{questions} record {number}: question id {key!r} has no answer in {answer_file}"
            )
        seen.add(key)
        category = (record.get("exam_type"), record.get("exam_class"))
        if not all(isinstance(part, str) for part in category) or category not in KNOWN:
            shown = "/".join(repr(part)[:60] for part in category)
            raise MedbenchError(
                f"{questions} record {number}: fields exam_type/exam_class: {shown} {NOT_CMB}"
            )
        counts[category] += 1
    unasked = [key for key in gold if key not in seen]
    if unasked:
        number = gold[unasked[0]][0]
        raise MedbenchError(
            f"{answer_file} record {number}: answer id {unasked[0]!r} has no question in {questions}"
            + (f" ({len(unasked) - 1} more)" if len(unasked) > 1 else "")
        )
    for category in sorted(set(counts) | set(expected), key=str):
        if counts.get(category, 0) != expected.get(category, 0):
            name = "/".join(str(part) for part in category)
            raise MedbenchError(
                f"{questions}: {name} has {counts.get(category, 0)} question(s); {hierarchy_file} "
                f"gives {expected.get(category, 0)}"
            )
    for number, record in enumerate(records, start=1):
        answer_number, answer = gold[record["id"]]
        yield Row(str(questions), number, {**record, "_answer": answer, "_answer_record": answer_number})


class Layout(mc.Layout):
    """One file holds every exam class: a leaf task reads the rows of its own class."""

    def rows(self, path: Path, subject: str | None = None) -> Iterator[Row]:
        root = path.parents[len(Path(QUESTIONS).parts) - 1]
        return (row for row in joined(path, root) if subject is None or row.data.get("exam_class") == subject)


def parse(row) -> dict:
    r, gold = row.data, row.data["_answer"]
    options = r.get("option")
    if not isinstance(options, dict) or not all(isinstance(v, str) for v in options.values()):
        raise ValueError("option: expected an object of option letter -> text")
    if not isinstance(r.get("question"), str):
        raise ValueError("question: expected text")
    for field in FIELDS:
        if not isinstance(r.get(field), str):
            raise ValueError(f"{field}: expected text")
        if field in gold and gold[field] != r[field]:
            raise ValueError(f"{field}: {r[field]!r} here, {gold[field]!r} in the answer record")
    if not ANSWER.fullmatch(gold["answer"]) or len(set(gold["answer"])) != len(gold["answer"]):
        raise ValueError(
            f"answer: {gold['answer'][:20]!r} in {ANSWERS} record {r['_answer_record']}: expected option "
            "letters A-G, each once (CMB's scoring compares the string as given)"
        )
    return {
        "id": str(r["id"]),
        "question": r["question"],
        "options": [[k, v] for k, v in sorted(options.items())],
        "answer": gold["answer"],
        "answer_as_given": gold["answer"],  # CMB's score.py compares this string exactly (cmb-official)
        "explanation": "",
        "fields": {field: r[field] for field in FIELDS},
    }


LAYOUT = Layout(QUESTIONS, None, parse, file_ids=True, companions=(ANSWERS, HIERARCHY))
load = mc.loader(LAYOUT)  # the exam tasks' custom_dataset hook


# ---- CMB-Clin ---------------------------------------------------------------------------------


def _text(record: object, key: str, where: str) -> str:
    value = record.get(key) if isinstance(record, dict) else None
    if not isinstance(value, str):
        raise genread.Malformed(f"{where}{key}: expected text")
    return value


def consultation(row: Row, case_prompt: str) -> list[dict]:
    """One case as CMB asks it: each question of ``QA_pairs`` in turn, after the earlier questions and
    their reference answers (CMB's ``collate_conv``); the first turn is ``case_prompt`` (CMB's
    "以下是一位病人的病例", from the task's YAML) filled with the case description and first question."""
    r = row.data
    description, pairs = _text(r, "description", ""), r.get("QA_pairs")
    if not isinstance(pairs, list) or not pairs:
        raise genread.Malformed("QA_pairs: expected a list of {question, answer}")
    questions = [_text(p, "question", f"QA_pairs[{k}].") for k, p in enumerate(pairs)]
    answers_given = [_text(p, "answer", f"QA_pairs[{k}].") for k, p in enumerate(pairs)]
    turns = [
        render_template(case_prompt, {"description": description, "question": questions[0]}),
        *questions[1:],
    ]
    case = genread.item_id(r, row)
    title = r.get("title") if isinstance(r.get("title"), str) else ""
    return [
        {
            "id": f"{case}-{k + 1}",
            "history": [
                [role, text]
                for j in range(k)
                for role, text in (("patient", turns[j]), ("doctor", answers_given[j]))
            ],
            "question": turns[k],
            "reference": answers_given[k],
            "fields": {"case": case, "title": title, "turn": str(k + 1)},
        }
        for k in range(len(pairs))
    ]


def read_clin(path: Path, case_prompt: str) -> Iterator[tuple[Row, dict]]:
    """Every question of every case, with its consultation so far; a malformed case is reported whole."""
    cases: dict[str, int] = {}  # case id -> its row
    for row in genread.read_json_list(path):
        blank = {"id": str(row.number), "history": [], "question": "", "reference": ""}
        try:
            items = [] if row.problem else consultation(row, case_prompt)
        except genread.Malformed as exc:
            row, items = Row(row.file, row.number, {}, str(exc)), []
        case = items[0]["fields"]["case"] if items else None
        if case in cases:  # every question of the later case, never some of them under the earlier id
            row = Row(row.file, row.number, {}, f"id: case {case!r} is row {cases[case]}'s too")
        elif case is not None:
            cases[case] = row.number
        if row.problem:
            yield row, blank
        for item in items if not row.problem else []:
            yield row, item


@datareport.task_data
def load_clin(**kwargs):
    """CMB-Clin's custom_dataset hook: the case prompt is the YAML's ``templates.case``."""
    case_prompt = kwargs["templates"]["case"]
    return gen.load(CLIN, lambda path: read_clin(path, case_prompt), **kwargs)


load_clin.source = CLIN
