"""CMExam's official layout: ``<data-dir>/cmexam/{split}.csv`` (Question, Options as ``A 文本`` lines,
Answer, Explanation, ...)."""

import re

from medbench import mc

_OPTION = re.compile(r"^\s*([A-Z])[\s.、．:：]*(.*)$")


def parse(row) -> dict:
    r = row.data
    options = []
    for line in str(r.get("Options") or "").splitlines():
        if line.strip():
            m = _OPTION.match(line)
            options.append([m.group(1), m.group(2).strip()] if m else ["?", line.strip()])
    return {
        "id": str(row.number),
        "question": str(r.get("Question") or ""),
        "options": options,
        "answer": str(r.get("Answer") or ""),
        "explanation": str(r.get("Explanation") or ""),
    }


LAYOUT = mc.Layout("cmexam/{split}.csv", ["Question", "Options", "Answer"], parse)
load = mc.loader(LAYOUT)  # the tasks' custom_dataset hook
