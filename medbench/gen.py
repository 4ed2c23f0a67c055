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
import re
from collections.abc import Iterator
from pathlib import Path

import datasets

from medbench.datasources import (
    LEDGER,
    Duplicates,
    Row,
    Skipped,
    check_file,
    log,
    read_jsonl,
    read_text,
    resolve_data_dir,
)
from medbench.errors import MedbenchError
from medbench.templates import render_template
from medbench.textmetrics import CONVENTIONS

Item = dict


# ---- official layouts -------------------------------------------------------------------------


def _read_json_list(path: Path) -> Iterator[Row]:
    try:
        records = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise MedbenchError(f"{path}: not a JSON list ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise MedbenchError(f"{path}: not a JSON list (nested too deeply)") from None
    if not isinstance(records, list):
        raise MedbenchError(f"{path}: expected a JSON list of records")
    for number, record in enumerate(records, start=1):
        if isinstance(record, dict):
            yield Row(str(path), number, record)
        else:
            yield Row(str(path), number, {}, f"expected a JSON object, got {type(record).__name__}")


class _Malformed(ValueError):
    """A record whose fields have the wrong shape; reported with its file and index."""


def _text(record: dict, key: str, one_element_list: bool = False) -> str:
    """A text field (absent or null reads as empty); any other type is malformed, never str()-ed."""
    value = record.get(key)
    if one_element_list and isinstance(value, list):  # Huatuo-26M: ["text"]
        if len(value) > 1:
            raise _Malformed(f"{key}: expected one text, got a list of {len(value)}")
        value = value[0] if value else None
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _Malformed(f"{key}: expected text, got {type(value).__name__}")
    return value.strip()


def _history(value) -> list[list[str]]:
    """CMtMedQA ``history``: a list of [patient, doctor] text pairs."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Malformed(f"history: expected a list of [patient, doctor] pairs, got {type(value).__name__}")
    turns = []
    for k, pair in enumerate(value, start=1):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(t, str) for t in pair)):
            shape = f"{len(pair)} elements" if isinstance(pair, list) else type(pair).__name__
            raise _Malformed(f"history turn {k}: expected a [patient, doctor] pair of texts, got {shape}")
        turns += [["patient", pair[0].strip()], ["doctor", pair[1].strip()]]
    return turns


def _checked(rows: Iterator[Row], build) -> Iterator[tuple[Row, Item]]:
    """Each row through ``build``; a malformed one comes back with its ``problem`` and no fields."""
    for row in rows:
        blank = {"id": str(row.number), "history": [], "question": "", "reference": ""}
        if row.problem:
            yield row, blank
            continue
        try:
            item = build(row)
        except _Malformed as exc:
            yield Row(row.file, row.number, {}, str(exc)), blank
            continue
        if item is not None:
            yield row, item


def _item_id(record: dict, row: Row) -> str:
    value = record.get("id")
    return str(row.number) if value is None or value == "" else str(value)


def _huatuo(rows: Iterator[Row]) -> Iterator[tuple[Row, Item]]:
    return _checked(
        rows,
        lambda row: {
            "id": _item_id(row.data, row),
            "history": [],
            "question": _text(row.data, "instruction", one_element_list=True),
            "reference": _text(row.data, "output", one_element_list=True),
        },
    )


def _cmtmedqa(rows: Iterator[Row], safety: bool) -> Iterator[tuple[Row, Item]]:
    """CMtMedQA test: dialogue records (``history``) or, with ``safety``, the ``instruct`` prompts."""

    def build(row: Row) -> Item | None:
        r = row.data
        if safety != ("instruct" in r):
            return None
        return {
            "id": _item_id(r, row),
            "history": _history(r.get("history")),
            "question": _text(r, "instruct" if safety else "instruction"),
            "reference": _text(r, "output"),
        }

    return _checked(rows, build)


def _chimed_qa(rows: Iterator[Row]) -> Iterator[tuple[Row, Item]]:
    """ChiMed QA (licensed): ``question`` and ``answer``, or ``answers`` [{text, adopted}]."""

    def build(row: Row) -> Item:
        r = row.data
        reference = _text(r, "answer")
        answers = r.get("answers")
        if not reference and answers is not None:
            if not (isinstance(answers, list) and all(isinstance(a, dict) for a in answers)):
                raise _Malformed("answers: expected a list of {text, adopted} objects")
            adopted = [a for a in answers if a.get("adopted")]
            reference = _text((adopted or answers)[0], "text") if answers else ""
        return {
            "id": _item_id(r, row),
            "history": [],
            "question": _text(r, "question"),
            "reference": reference,
        }

    return _checked(rows, build)


def _dialogue_turns(block: list[tuple[int, str]]) -> list[list]:
    """``[role, text, line]`` turns of one ``.dialog`` block; a line that is not a ``P``/``D`` turn or a
    ``SUM`` summary (two dialogues run together, a stray line) makes the block malformed."""
    turns: list[list] = []
    for line_no, text in block[1:]:
        tag, _, rest = text.partition("\t")
        if tag.startswith("SUM"):
            continue
        if tag not in ("P", "D") or not rest.strip():
            raise _Malformed(
                f"line {line_no}: expected 'P<TAB>text', 'D<TAB>text' or a SUM line, got {text[:30]!r}"
            )
        role = "patient" if tag == "P" else "doctor"
        utterance = rest.split("\t")[0].strip()
        if turns and turns[-1][0] == role:
            turns[-1][1] += "，" + utterance
        else:
            turns.append([role, utterance, line_no])
    return turns


def _mc_dialogues(path: Path) -> Iterator[tuple[Row, Item]]:
    """MC (Song et al., 2020) ``.dialog`` blocks -> one item per doctor turn with the turns before it.

    Consecutive utterances of one speaker are joined into one turn (with ``，``).
    """
    block: list[tuple[int, str]] = []
    lines = read_text(path).splitlines()
    for number, line in enumerate([*lines, ""], start=1):
        if line.strip():
            block.append((number, line))
            continue
        if not block:
            continue
        header = block[0][1].split("\t")
        dialog_id = header[1] if len(header) > 1 and header[0] == "id" else str(block[0][0])
        try:
            turns = _dialogue_turns(block)
        except _Malformed as exc:
            blank = {"id": dialog_id, "history": [], "question": "", "reference": ""}
            yield Row(str(path), block[0][0], {}, f"dialogue {dialog_id}: {exc}"), blank
            turns = []
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
    path = check_file(root / relative, benchmark, f"official layout: <data-dir>/{relative}")
    items, skipped = [], []
    seen = Duplicates()
    for row, item in reader(path):
        empty = [k for k in ("question", "reference") if not item[k]]
        if row.problem or empty:
            reason = row.problem or f"empty {' and '.join(empty)}"
            skipped.append(Skipped(benchmark, row.file, row.number, reason, "malformed", "test"))
            continue
        content = {k: item[k] for k in ("history", "question", "reference")}
        duplicate = seen.check(item["id"], content, row.number)
        if duplicate:
            skipped.append(Skipped(benchmark, row.file, row.number, duplicate, "duplicate", "test"))
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
        log.warning(
            "%s: skipped %d malformed or duplicate row(s): %s",
            benchmark,
            len(new),
            "; ".join(map(str, new[:5])),
        )
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(items)})


# ---- scoring hooks ----------------------------------------------------------------------------

TEXT_METRICS = [*CONVENTIONS]


def _score(reference: str, prediction: str) -> dict:
    pair = (reference, prediction)
    return {**{m: pair for m in TEXT_METRICS}, "empty_rate": float(not prediction)}


def process_results(doc: dict, results: list[str]) -> dict:
    """Per-item (reference, prediction) pairs for the corpus-level BLEU/ROUGE aggregations."""
    return _score(doc["reference"], results[0].strip())


_EXPLANATION_MARKER = re.compile(r"解释\s*[：:]")


def process_explanation(doc: dict, results: list[str]) -> dict:
    """CMExam "Reasoning": only the text after the ``解释：`` marker (either colon) is scored, unchanged
    (an ASCII colon inside it, as in ``2:1``, stays); a reply without the marker scores empty."""
    parts = _EXPLANATION_MARKER.split(results[0], maxsplit=1)
    return _score(doc["explanation"], parts[1].strip() if len(parts) == 2 else "")
