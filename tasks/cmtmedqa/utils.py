"""CMtMedQA test: ``<data-dir>/cmtmedqa/CMtMedQA_test.json``, a JSON list of multi-turn dialogues
(``instruction``, ``output``, ``history`` of [patient, doctor] pairs) and safety prompts (``instruct``)."""

import functools

from medbench.data import genread
from medbench.scoring import gen


def history(value) -> list[list[str]]:
    """CMtMedQA ``history``: a list of [patient, doctor] text pairs."""
    if value is None:
        return []
    if not isinstance(value, list):
        kind = type(value).__name__
        raise genread.Malformed(f"history: expected a list of [patient, doctor] pairs, got {kind}")
    turns = []
    for k, pair in enumerate(value, start=1):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(t, str) for t in pair)):
            shape = f"{len(pair)} elements" if isinstance(pair, list) else type(pair).__name__
            raise genread.Malformed(
                f"history turn {k}: expected a [patient, doctor] pair of texts, got {shape}"
            )
        turns += [["patient", pair[0].strip()], ["doctor", pair[1].strip()]]
    return turns


def read(path, safety: bool = False):
    """Dialogue records (``history``) or, with ``safety``, the ``instruct`` prompts."""

    def build(row) -> dict | None:
        r = row.data
        if safety != ("instruct" in r):
            return None
        return {
            "id": genread.item_id(r, row),
            "history": history(r.get("history")),
            "question": genread.text_field(r, "instruct" if safety else "instruction"),
            "reference": genread.text_field(r, "output"),
        }

    return genread.checked(genread.read_json_list(path), build)


load = gen.loader("cmtmedqa/CMtMedQA_test.json", read)  # the dialogues
load_safety = gen.loader("cmtmedqa/CMtMedQA_test.json", functools.partial(read, safety=True))
