"""MedQA (Mainland China, 4 options): ``<data-dir>/medqa_mcmle/{split}.jsonl`` with MedQA's own fields
(question, options {letter: text}, answer_idx). A field of another JSON type is a problem, never
``str()``-ed."""

import re

from medbench.scoring import mc


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


_APOLLO_OPTION = re.compile(r"^\(([A-Z])\) ?(.*)$")
_APOLLO_ANSWER = re.compile(r"^\(([A-Z])\)$")


def parse_apollo(row) -> dict:
    """FreedomIntelligence/Apollo's copy (its own layout, declared in _sources_yaml): ``question``,
    ``option`` as ``(A) text.\n(B) text.`` lines, ``anwer`` [sic] as ``(A)``. Option texts are kept as
    the file has them (with the period Apollo appends); a line or answer of another shape is a problem."""
    r = row.data
    for key in ("question", "option", "anwer"):
        if not isinstance(r.get(key), str):
            raise ValueError(f"{key}: expected text, got {type(r.get(key)).__name__}")
    options = []
    for line in r["option"].splitlines():
        match = _APOLLO_OPTION.match(line.strip())
        if not match:
            raise ValueError(f"option line {line[:40]!r}: expected '(X) text'")
        options.append([match.group(1), match.group(2)])
    answer = _APOLLO_ANSWER.match(r["anwer"].strip())
    if not answer:
        raise ValueError(f"anwer {r['anwer'][:20]!r}: expected '(X)'")
    return {
        "id": str(row.number),
        "question": r["question"],
        "options": options,
        "answer": answer.group(1),
        "explanation": "",
    }


LAYOUT = mc.Layout("medqa_mcmle/{split}.jsonl", None, parse, variants={"apollo": parse_apollo})
load = mc.loader(LAYOUT)  # the tasks' custom_dataset hook
