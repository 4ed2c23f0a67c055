"""CMMLU's official layout: ``<data-dir>/cmmlu/{split}/{subject}.csv`` (an unnamed id column,
Question, A-D, Answer). Ids come from the file. Without a data folder the files come from the
pinned hub mirror in ``_cmmlu_common_yaml`` (see README.md)."""

from medbench.scoring import mc


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
    file_ids=True,
)
load = mc.loader(LAYOUT)  # the tasks' custom_dataset hook
