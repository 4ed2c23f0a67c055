"""CMMLU's official layout: ``<data-dir>/cmmlu/{split}/{subject}.csv`` (an unnamed id column,
Question, A-D, Answer); the hub twin is ``haonan-li/cmmlu``. Ids come from the file."""

from medbench import mc


def parse(row) -> dict:
    r = row.data
    return {
        "id": str(r.get("") or row.number),
        "question": str(r.get("Question") or ""),
        "options": mc.options_from_columns(r),
        "answer": str(r.get("Answer") or ""),
        "explanation": "",
    }


LAYOUT = mc.Layout(
    "cmmlu/{split}/{subject}.csv",
    ["Question", "A", "B", "C", "D", "Answer"],
    parse,
    hub="haonan-li/cmmlu",
    file_ids=True,
)
load = mc.loader(LAYOUT)  # the tasks' custom_dataset hook
