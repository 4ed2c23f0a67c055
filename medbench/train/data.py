"""Training data: reading, validating (file and line in every error), and shaping for TRL.

Formats (JSON lines unless noted):

* pretrain: ``.txt`` (one document per non-empty line) or ``{"text"}`` records;
* sft: ``{instruction, input, output}``, ``{instruction, input, output, history: [[user, doctor], ...]}``
  (CMtMedQA style) or chat ``{messages: [{role, content}, ...]}`` ending with the assistant's reply;
* preferences: pairs ``{prompt, chosen, rejected}`` or rankings ``{prompt, responses: [best, ..., worst]}``,
  expanded to adjacent pairs (ChiMed-GPT) or all C(K,2) pairs (Zhongjing).

Everything becomes TRL's conversational format (``prompt`` as chat messages, ``completion`` /
``chosen`` / ``rejected`` as assistant messages), so every stage and every check uses the model's
chat template the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

from medbench.core.errors import MedbenchError
from medbench.core.paths import RESOURCES_DIR
from medbench.data.datasources import read_jsonl

BUNDLED = "bundled:"


def data_path(spec: str) -> Path:
    """``bundled:train/sft.jsonl`` -> medbench's shipped file; anything else is a path."""
    path = RESOURCES_DIR / spec[len(BUNDLED) :] if spec.startswith(BUNDLED) else Path(spec).expanduser()
    if not path.is_file():
        raise MedbenchError(f"training data {spec} not found ({path})")
    return path


def _records(path: Path) -> Iterator[tuple[int, dict]]:
    """Training records with their line numbers; a malformed line stops with file and line."""
    for row in read_jsonl(path):
        if row.problem:
            raise MedbenchError(f"{path} line {row.number}: {row.problem}")
        yield row.number, row.data


def _text(record: dict, key: str, where: str) -> str:
    if key not in record:
        raise MedbenchError(f"{where}: missing field '{key}'")
    value = record[key]
    if not isinstance(value, str):
        raise MedbenchError(f"{where}: field '{key}' must be a string")
    return value


def texts(spec: str) -> list[str]:
    """Pre-training documents."""
    path = data_path(spec)
    if path.suffix == ".txt":
        return [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    return [_text(r, "text", f"{path} line {n}") for n, r in _records(path) if r.get("text", "").strip()]


def _user(text: str) -> dict:
    return {"role": "user", "content": text}


def _assistant(text: str) -> dict:
    return {"role": "assistant", "content": text}


def sft_example(record: dict, where: str) -> dict:
    """One SFT record -> ``{"prompt": [messages], "completion": [assistant message]}``."""
    if "messages" in record:
        messages = record["messages"]
        if (
            not isinstance(messages, list)
            or not messages
            or not all(isinstance(m, dict) and "role" in m and "content" in m for m in messages)
        ):
            raise MedbenchError(f"{where}: 'messages' must be a list of {{role, content}}")
        if messages[-1]["role"] != "assistant":
            raise MedbenchError(f"{where}: the last message must be the assistant's reply")
        if not str(messages[-1]["content"]).strip():
            raise MedbenchError(f"{where}: empty response")
        return {"prompt": messages[:-1], "completion": [messages[-1]]}
    instruction = _text(record, "instruction", where)
    question = _text(record, "input", where)
    output = _text(record, "output", where)
    if not output.strip():
        raise MedbenchError(f"{where}: empty response")
    turns: list[dict] = []
    for pair in record.get("history") or []:
        if not (isinstance(pair, list) and len(pair) == 2):
            raise MedbenchError(f"{where}: 'history' must be a list of [user, assistant] pairs")
        turns += [_user(pair[0]), _assistant(pair[1])]
    turns.append(_user(question))
    turns[0] = _user(instruction + turns[0]["content"])  # the instruction leads the dialogue, as in eval
    return {"prompt": turns, "completion": [_assistant(output)]}


def sft_examples(spec: str) -> list[dict]:
    path = data_path(spec)
    return [sft_example(r, f"{path} line {n}") for n, r in _records(path)]


def preference_pairs(spec: str, pairing: str = "adjacent") -> list[dict]:
    """Pairs ``{prompt, chosen, rejected}`` (conversational); rankings expand per ``pairing``."""
    if pairing not in ("adjacent", "all"):
        raise MedbenchError(f"pairing must be 'adjacent' or 'all', not '{pairing}'")
    path = data_path(spec)
    pairs = []
    for number, record in _records(path):
        where = f"{path} line {number}"
        prompt = [_user(_text(record, "prompt", where))]
        if "responses" in record:
            responses = record["responses"]
            if not isinstance(responses, list) or len(responses) < 2:
                raise MedbenchError(f"{where}: a ranking needs at least 2 responses")
            if any(not isinstance(r, str) or not r.strip() for r in responses):
                raise MedbenchError(f"{where}: empty response in ranking")
            combos = (
                zip(responses, responses[1:], strict=False)
                if pairing == "adjacent"
                else itertools.combinations(responses, 2)
            )
            for better, worse in combos:
                if better == worse:
                    raise MedbenchError(f"{where}: a ranking repeats the same response")
                pairs.append(
                    {"prompt": prompt, "chosen": [_assistant(better)], "rejected": [_assistant(worse)]}
                )
            continue
        chosen, rejected = _text(record, "chosen", where), _text(record, "rejected", where)
        if not chosen.strip() or not rejected.strip():
            raise MedbenchError(f"{where}: empty response")
        if chosen == rejected:
            raise MedbenchError(f"{where}: chosen equals rejected")
        pairs.append({"prompt": prompt, "chosen": [_assistant(chosen)], "rejected": [_assistant(rejected)]})
    return pairs


def prompts(spec: str) -> list[list[dict]]:
    """Prompts for sampling stages: the ``prompt`` of preference records, or SFT records' prompts."""
    path = data_path(spec)
    out = []
    for number, record in _records(path):
        where = f"{path} line {number}"
        out.append(
            [_user(_text(record, "prompt", where))]
            if "prompt" in record
            else sft_example(record, where)["prompt"]
        )
    return out
