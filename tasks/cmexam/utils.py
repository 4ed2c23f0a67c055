"""CMExam's official layout: ``<data-dir>/cmexam/{split}.csv`` (Question, Options as ``A 文本`` lines,
Answer, Explanation, ...)."""

import re

from medbench.scoring import mc

#: the annotated release's per-item columns (test_annotated.csv), kept for --slice-by
ANNOTATIONS = (
    "Disease Group",
    "Area of Competency",
    "Clinical Department",
    "Medical Discipline",
    "Difficulty level",
)
_OPTION = re.compile(r"^\s*([A-Z])[\s.、．:：]*(.*)$")


def parse(row) -> dict:
    r = row.data
    options = []
    for line in str(r.get("Options") or "").splitlines():
        if line.strip():
            m = _OPTION.match(line)
            options.append([m.group(1), m.group(2).strip()] if m else ["?", line.strip()])
    item = {
        "id": str(row.number),
        "question": str(r.get("Question") or ""),
        "options": options,
        "answer": str(r.get("Answer") or ""),
        "explanation": str(r.get("Explanation") or ""),
    }
    annotated = [column for column in ANNOTATIONS if column in r]
    if annotated:  # the annotated release's columns, for --slice-by
        item["fields"] = {column: str(r[column] or "").strip() for column in annotated}
    return item


LAYOUT = mc.Layout("cmexam/{split}.csv", ["Question", "Options", "Answer"], parse)
load = mc.loader(LAYOUT)  # the tasks' custom_dataset hook
