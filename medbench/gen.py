"""Open-ended generation tasks (QA and multi-turn dialogue) as lm-eval data, scored with BLEU/ROUGE.

Every item becomes ``{id, history, question, reference}`` where ``history`` is a list of
``[role, text]`` turns (``patient``/``doctor``). The task YAML's ``templates`` say how a dialogue is
written as plain text (``患者：``/``医生：`` turns and a ``医生：`` cue); the same turns also become
chat ``messages``, which the OpenAI-compatible backend sends as they are and which, with
``--chat``, go through the model's own chat template for local models.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path

import datasets

from medbench.datasources import LEDGER, Row, Skipped, log, read_jsonl, resolve_data_dir
from medbench.errors import MedbenchError
from medbench.mc import render_template
from medbench.textmetrics import CONVENTIONS

Item = dict


# ---- official layouts -------------------------------------------------------------------------


def _read_json_list(path: Path) -> Iterator[Row]:
    LEDGER.fingerprint(path)
    try:
        records = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise MedbenchError(f"{path}: not a JSON list ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(records, list):
        raise MedbenchError(f"{path}: expected a JSON list of records")
    for number, record in enumerate(records, start=1):
        yield Row(str(path), number, record if isinstance(record, dict) else {})


def _first(value) -> str:
    """Huatuo-26M stores question and answer as one-element lists."""
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value or "").strip()


def _huatuo(rows: Iterator[Row]) -> Iterator[tuple[Row, Item]]:
    for row in rows:
        r = row.data
        yield (
            row,
            {
                "id": str(r.get("id") or row.number),
                "history": [],
                "question": _first(r.get("instruction")),
                "reference": _first(r.get("output")),
            },
        )


def _cmtmedqa(rows: Iterator[Row], safety: bool) -> Iterator[tuple[Row, Item]]:
    """CMtMedQA test: dialogue records (``history``) or, with ``safety``, the ``instruct`` prompts."""
    for row in rows:
        r = row.data
        if safety != ("instruct" in r):
            continue
        history = []
        for pair in r.get("history") or []:
            if isinstance(pair, list) and len(pair) == 2:
                history += [["patient", str(pair[0]).strip()], ["doctor", str(pair[1]).strip()]]
        question = r.get("instruct") if safety else r.get("instruction")
        yield (
            row,
            {
                "id": str(r.get("id") or row.number),
                "history": history,
                "question": str(question or "").strip(),
                "reference": str(r.get("output") or "").strip(),
            },
        )


def _chimed_qa(rows: Iterator[Row]) -> Iterator[tuple[Row, Item]]:
    """ChiMed QA (licensed): ``question`` and ``answer``, or ``answers`` [{text, adopted}]."""
    for row in rows:
        r = row.data
        answer = r.get("answer")
        answers = r.get("answers") if isinstance(r.get("answers"), list) else []
        if answer is None and answers:
            adopted = [a for a in answers if isinstance(a, dict) and a.get("adopted")]
            answer = (
                (adopted or answers)[0].get("text") if isinstance((adopted or answers)[0], dict) else None
            )
        yield (
            row,
            {
                "id": str(r.get("id") or row.number),
                "history": [],
                "question": str(r.get("question") or "").strip(),
                "reference": str(answer or "").strip(),
            },
        )


def _mc_dialogues(path: Path) -> Iterator[tuple[Row, Item]]:
    """MC (Song et al., 2020) ``.dialog`` blocks -> one item per doctor turn with the turns before it.

    Consecutive utterances of one speaker are joined into one turn (with ``，``).
    """
    LEDGER.fingerprint(path)
    block: list[tuple[int, str]] = []
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    for number, line in enumerate([*lines, ""], start=1):
        if line.strip():
            block.append((number, line))
            continue
        if not block:
            continue
        header = block[0][1].split("\t")
        dialog_id = header[1] if len(header) > 1 and header[0] == "id" else str(block[0][0])
        turns: list[list] = []  # [role, text, line]
        for line_no, text in block[1:]:
            parts = text.split("\t")
            if parts[0] not in ("P", "D") or len(parts) < 2:
                continue
            role = "patient" if parts[0] == "P" else "doctor"
            if turns and turns[-1][0] == role:
                turns[-1][1] += "，" + parts[1].strip()
            else:
                turns.append([role, parts[1].strip(), line_no])
        for i, (role, text, line_no) in enumerate(turns):
            if role == "doctor" and i > 0:
                yield (
                    Row(str(path), line_no, {}),
                    {
                        "id": f"{dialog_id}-{i}",
                        "history": [[r, t] for r, t, _ in turns[: i - 1]],
                        "question": turns[i - 1][1],
                        "reference": text,
                    },
                )
        block = []


READERS = {
    "huatuo26m": ("huatuo26m/huatuo26M_test.json", lambda p: _huatuo(_read_json_list(p))),
    "cmtmedqa": ("cmtmedqa/CMtMedQA_test.json", lambda p: _cmtmedqa(_read_json_list(p), safety=False)),
    "cmtmedqa_safety": ("cmtmedqa/CMtMedQA_test.json", lambda p: _cmtmedqa(_read_json_list(p), safety=True)),
    "chimed_qa": ("chimed_qa/test.jsonl", lambda p: _chimed_qa(read_jsonl(p))),
    "mc_dialogue": ("mc/sample_test.dialog", _mc_dialogues),
}


# ---- rendering --------------------------------------------------------------------------------


def messages(item: Item, templates: dict) -> list[dict]:
    """The dialogue as chat messages; the task instruction leads the first user turn."""
    turns = [*item["history"], ["patient", item["question"]]]
    out = [{"role": "user" if role == "patient" else "assistant", "content": text} for role, text in turns]
    instruction = templates.get("instruction", "")
    if instruction:
        out[0] = {**out[0], "content": instruction + out[0]["content"]}
    return out


def plain_prompt(item: Item, templates: dict) -> str:
    """The dialogue as text: instruction, ``患者：``/``医生：`` turns, then the next doctor turn's cue."""
    turns = [*item["history"], ["patient", item["question"]]]
    lines = [render_template(templates[role], {"text": text}) for role, text in turns]
    return render_template(
        templates["prompt"], {"instruction": templates.get("instruction", ""), "turns": lines}
    )


@functools.lru_cache(maxsize=4)
def _chat_tokenizer(model: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    if not tokenizer.chat_template:
        raise MedbenchError(f"--chat: model {model} has no chat template")
    return tokenizer


def load(
    *,
    benchmark: str,
    templates: dict,
    file: str | None = None,
    data_dir: str | None = None,
    chat_model: str | None = None,
    **_: object,
) -> datasets.DatasetDict:
    """``custom_dataset`` hook: read, validate and render one generation benchmark (split ``test``)."""
    default_file, reader = READERS[benchmark]
    root = resolve_data_dir(data_dir)
    relative = file or default_file
    if root is None:
        raise MedbenchError(
            f"{benchmark}: no local data. Put {relative} under a folder and pass --data-dir DIR "
            "(or set MEDBENCH_DATA)"
        )
    path = root / relative
    if not path.is_file():
        raise MedbenchError(f"{benchmark}: missing data file {path} (official layout: <data-dir>/{relative})")
    items, skipped = [], []
    for row, item in reader(path):
        empty = [k for k in ("question", "reference") if not item[k]]
        if row.problem or empty:
            reason = row.problem or f"empty {' and '.join(empty)}"
            skipped.append(Skipped(benchmark, row.file, row.number, reason))
            continue
        item["messages"] = messages(item, templates)
        if chat_model:
            item["prompt"] = _chat_tokenizer(chat_model).apply_chat_template(
                item["messages"], tokenize=False, add_generation_prompt=True
            )
        else:
            item["prompt"] = plain_prompt(item, templates)
        items.append(item)
    new = LEDGER.skip(skipped)
    if new:
        log.warning("%s: skipped %d malformed row(s): %s", benchmark, len(new), "; ".join(map(str, new[:5])))
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(items)})


# ---- scoring hooks ----------------------------------------------------------------------------

TEXT_METRICS = [*CONVENTIONS]


def _score(reference: str, prediction: str) -> dict:
    pair = (reference, prediction)
    return {**{m: pair for m in TEXT_METRICS}, "empty_rate": float(not prediction)}


def process_results(doc: dict, results: list[str]) -> dict:
    """Per-item (reference, prediction) pairs for the corpus-level BLEU/ROUGE aggregations."""
    return _score(doc["reference"], results[0].strip())


def process_explanation(doc: dict, results: list[str]) -> dict:
    """CMExam "Reasoning": only the text after ``解释：`` is scored; a reply without it scores empty."""
    reply = results[0].replace(":", "：")
    explanation = reply.split("解释：", 1)[1].strip() if "解释：" in reply else ""
    return _score(doc["explanation"], explanation)
