"""C-Eval's official layout: ``<data-dir>/ceval/{split}/{subject}_{split}.csv`` (id, question, A-D,
answer[, explanation]). Ids come from the file. Without a data folder the files come from the pinned
hub mirror in ``_ceval_common_yaml`` (see README.md)."""

from medbench.scoring import mc


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
    file_ids=True,
)
load = mc.loader(LAYOUT)  # the tasks' custom_dataset hook
