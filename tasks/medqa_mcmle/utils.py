"""MedQA (Mainland China, 4 options): ``<data-dir>/medqa_mcmle/{split}.jsonl`` with MedQA's own fields
(question, options {letter: text}, answer_idx). A field of another JSON type is a problem, never
``str()``-ed."""

from medbench import mc


def parse(row) -> dict:
    r = row.data
    options = r.get("options")
    if options is not None and not (
        isinstance(options, dict) and all(isinstance(v, str) for v in options.values())
    ):
        raise ValueError("options: expected an object of option letter -> text")
    for key in ("question", "answer_idx"):
        if r.get(key) is not None and not isinstance(r[key], str):
            raise ValueError(f"{key}: expected text, got {type(r[key]).__name__}")
    return {
        "id": str(row.number),
        "question": r.get("question") or "",
        "options": [[k, v] for k, v in sorted((options or {}).items())],
        "answer": r.get("answer_idx") or "",
        "explanation": "",
    }


LAYOUT = mc.Layout("medqa_mcmle/{split}.jsonl", None, parse)
load = mc.loader(LAYOUT)  # the tasks' custom_dataset hook
