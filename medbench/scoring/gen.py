"""Open-ended generation tasks (QA and multi-turn dialogue) as lm-eval data, scored with BLEU/ROUGE.

Every item becomes ``{id, history, question, reference}`` where ``history`` is a list of
``[role, text]`` turns (``patient``/``doctor``). The task YAML's ``templates`` say how a dialogue is
written as plain text (``患者：``/``医生：`` turns and a ``医生：`` cue); the same turns also become
chat ``messages``, which the OpenAI-compatible backend sends as they are and which, with
``--chat``, go through the model's own chat template for local models.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import datasets

from medbench.core.errors import MedbenchError
from medbench.core.hooks import PLAIN, HookContext
from medbench.core.templates import render_template
from medbench.data import datareport, sources
from medbench.data.datareport import DataReport
from medbench.data.datasources import Row, check_file, resolve_data_dir
from medbench.data.intake import Intake, no_local_data
from medbench.models import chat as chat_module
from medbench.models import thinking
from medbench.scoring.textmetrics import CONVENTIONS

Item = dict


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


def chat_turns(messages: list[dict], chat_model: str | None) -> str:
    """``--chat``: a dialogue's turns for lm-eval to render (a local model must have a template)."""
    if chat_model:
        _chat_tokenizer(chat_model)
    return chat_module.encode(messages)


def load(
    default_file: str,
    reader: Callable[[Path], Iterator[tuple[Row, Item]]],
    *,
    report: DataReport,
    benchmark: str,
    templates: dict,
    file: str | None = None,
    data_dir: str | None = None,
    chat: bool = False,
    chat_model: str | None = None,
    **_: object,
) -> datasets.DatasetDict:
    """Read, validate and render one generation benchmark (split ``test``); each benchmark's hook
    (``tasks/<benchmark>/utils.py``, made by :func:`loader`) calls this with its file and reader."""
    relative = file or default_file
    root = resolve_data_dir(data_dir) or sources.resolve(benchmark, [relative], report)
    if root is None:
        raise no_local_data(benchmark, [relative])
    path = check_file(root / relative, benchmark, f"official layout: <data-dir>/{relative}")
    report.fingerprint(path)
    intake, items = Intake(benchmark, "test", report), []
    for row, item in reader(path):
        empty = [k for k in ("question", "reference") if not item[k]]
        if row.problem or empty:
            intake.malformed(row.file, row.number, row.problem or f"empty {' and '.join(empty)}")
            continue
        content = {k: item[k] for k in ("history", "question", "reference")}
        if not intake.admit(row.file, row.number, None, item["id"], content):
            continue
        item["messages"] = messages(item, templates)
        if chat:  # the turns themselves: lm-eval's chat templating renders them (medbench.models.chat)
            item["prompt"] = chat_turns(item["messages"], chat_model)
        else:
            item["prompt"] = plain_prompt(item, templates)
        items.append(item)
        intake.keep()
    intake.report()
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(items)})


def loader(default_file: str, reader) -> Callable[..., datasets.DatasetDict]:
    """The ``custom_dataset`` hook of a benchmark read from ``<data-dir>/<default_file>`` by ``reader``
    (rows with their items; a malformed row carries its ``problem``)."""

    @datareport.task_data
    def hook(**kwargs) -> datasets.DatasetDict:
        return load(default_file, reader, **kwargs)

    hook.source = default_file
    return hook


# ---- scoring hooks ----------------------------------------------------------------------------

TEXT_METRICS = [*CONVENTIONS]


def _score(reference: str, prediction: str, truncated: bool = False) -> dict:
    pair = (reference, prediction)
    return {
        **{m: pair for m in TEXT_METRICS},
        "empty_rate": float(not prediction),
        "truncated_thinking_rate": float(truncated),
    }


def process_results(doc: dict, results: list[str], *, context: HookContext = PLAIN) -> dict:
    """Per-item (reference, prediction) pairs for the corpus-level BLEU/ROUGE aggregations; the
    prediction is the reply after any thinking (a reply whose thinking was cut off scores empty)."""
    part = thinking.split(results[0], context.tags)
    return _score(doc["reference"], part.answer.strip(), part.unfinished)


_EXPLANATION_MARKER = re.compile(r"解释\s*[：:]")


def process_explanation(doc: dict, results: list[str], *, context: HookContext = PLAIN) -> dict:
    """CMExam "Reasoning": only the text after the ``解释：`` marker (either colon) is scored, unchanged
    (an ASCII colon inside it, as in ``2:1``, stays); a reply without the marker scores empty."""
    part = thinking.split(results[0], context.tags)
    parts = _EXPLANATION_MARKER.split(part.answer, maxsplit=1)
    return _score(doc["explanation"], parts[1].strip() if len(parts) == 2 else "", part.unfinished)
