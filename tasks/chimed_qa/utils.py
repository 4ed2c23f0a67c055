"""ChiMed QA (licensed; not shipped): ``<data-dir>/chimed_qa/test.jsonl`` with ``question`` and
``answer``, or ``answers`` [{text, adopted}] (the adopted answer is the reference)."""

from medbench.data import genread
from medbench.data.datasources import read_jsonl
from medbench.scoring import gen


def read(path):
    """ChiMed QA (licensed): ``question`` and ``answer``, or ``answers`` [{text, adopted}]."""

    def build(row) -> dict:
        r = row.data
        reference = genread.text_field(r, "answer")
        answers = r.get("answers")
        if not reference and answers is not None:
            if not (isinstance(answers, list) and all(isinstance(a, dict) for a in answers)):
                raise genread.Malformed("answers: expected a list of {text, adopted} objects")
            adopted = [a for a in answers if a.get("adopted")]
            reference = genread.text_field((adopted or answers)[0], "text") if answers else ""
        return {
            "id": genread.item_id(r, row),
            "history": [],
            "question": genread.text_field(r, "question"),
            "reference": reference,
        }

    return genread.checked(read_jsonl(path), build)


load = gen.loader("chimed_qa/test.jsonl", read)  # the task's custom_dataset hook
