"""C-Eval's official layout: ``<data-dir>/ceval/{split}/{subject}_{split}.csv`` (id, question, A-D,
answer[, explanation]); the hub twin is ``ceval/ceval-exam``. Ids come from the file."""

from medbench import mc


def parse(row) -> dict:
    r = row.data
    return {
        "id": str(r.get("id", row.number)),
        "question": str(r.get("question") or ""),
        "options": mc.options_from_columns(r),
        "answer": str(r.get("answer") or ""),
        "explanation": str(r.get("explanation") or ""),
    }


LAYOUT = mc.Layout(
    "ceval/{split}/{subject}_{split}.csv",
    ["id", "question", "A", "B", "C", "D", "answer"],
    parse,
    hub="ceval/ceval-exam",
    file_ids=True,
)
load = mc.loader(LAYOUT)  # the tasks' custom_dataset hook
