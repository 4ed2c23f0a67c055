"""A reasoning model's thinking, kept apart from its answer before anything is extracted or scored.

Reasoning models write ``<think>…</think>`` before the answer; some chat templates open the block in
the prompt, so the reply holds only the closing tag; a server with a reasoning parser returns the
thinking in its own field (``reasoning_content``), which :func:`tagged` folds back into the tagged
form so every backend's replies are read one way. A reply whose thinking never closes (the length
limit cut it) has no answer at all: it is :data:`TRUNCATED`, counted on its own
(``truncated_thinking_rate``), and never scored from the thinking text. Numbers collapse when this
is skipped (lm-eval #3405: Qwen3-4B MMLU 70.1 → 22.8 with thinking on; olmo-eval #348).

The tags are the model's: ``--think-tags OPEN,CLOSE`` sets them for a run, and every function here
takes them as an argument (the task hooks get them in their run context, :mod:`medbench.core.hooks`). A
closing tag inside an open bracket or quote on its line (``答案：C（</think>是结束标签）``) is the
tag mentioned, not the end of any thinking (:func:`closing_at`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from medbench.config import record
from medbench.core import sample_files
from medbench.core.errors import MedbenchError
from medbench.core.hooks import DEFAULT_TAGS

Tags = tuple[str, str]
#: the extracted answer of a reply whose thinking was cut off before it ended
TRUNCATED = "[truncated-thinking]"


@dataclass(frozen=True)
class Reply:
    thinking: str | None  # None: the reply has no thinking
    answer: str  # what extraction and scoring read ("" when the thinking never ended)
    unfinished: bool  # the thinking opened and never closed


def parse_tags(text: str | None) -> tuple[str, str]:
    """``OPEN,CLOSE`` (``--think-tags``) -> the pair; one line for anything else."""
    if not text:
        return DEFAULT_TAGS
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not all(parts):
        raise MedbenchError(f"--think-tags must be OPEN,CLOSE (e.g. <think>,</think>), got {text!r}")
    return parts[0], parts[1]


#: brackets and quotes around a mentioned tag: (opening, closing) pairs, and quotes that pair with
#: themselves (not ``'``, an English apostrophe)
_BRACKETS = (
    ("(", ")"),
    ("（", "）"),
    ("[", "]"),
    ("【", "】"),
    ("「", "」"),
    ("『", "』"),
    ("“", "”"),
    ("《", "》"),
)
_QUOTES = ('"', "`")


def closing_at(text: str, closing: str) -> int:
    """Where the last closing tag that ends thinking starts (-1: none). A tag inside a bracket or
    quote opened earlier on its line is mentioned, not closing. One pass over the reply (a reply
    can hold any number of tags): each stretch between two tags is counted once, per line."""
    found, begin, pos = -1, 0, text.find(closing)
    depth = dict.fromkeys([o for o, _ in _BRACKETS] + list(_QUOTES), 0)
    while pos >= 0:
        stretch = text[begin:pos]
        newline = stretch.rfind("\n")
        if newline >= 0:
            depth = dict.fromkeys(depth, 0)
            stretch = stretch[newline + 1 :]
        for opening, closer in _BRACKETS:
            depth[opening] += stretch.count(opening) - stretch.count(closer)
        for quote in _QUOTES:
            depth[quote] += stretch.count(quote)
        if all(depth[o] <= 0 for o, _ in _BRACKETS) and not any(depth[q] % 2 for q in _QUOTES):
            found = pos
        begin = pos + len(closing)
        pos = text.find(closing, begin)
    return found


def split(text: str, tags: Tags = DEFAULT_TAGS) -> Reply:
    """Thinking and answer of one reply. The answer follows the *last* closing tag that is not a
    mention (:func:`closing_at`; a model may think in several blocks); with a closing tag but no
    opening one, everything before it is thinking (the template opened the block); a reply that
    opens its thinking and never closes it leaves no answer (one that only mentions the opening tag
    further in is a plain reply)."""
    text = text or ""
    opening, closing = tags
    close = closing_at(text, closing)
    if close >= 0:
        start = text.find(opening)
        begin = start + len(opening) if 0 <= start < close else 0
        return Reply(text[begin:close].strip(), text[close + len(closing) :].strip(), False)
    if text.lstrip().startswith(opening):  # a reasoning model opens its thinking first thing
        return Reply(text.lstrip()[len(opening) :].strip(), "", True)
    return Reply(None, text, False)  # a plain reply that mentions the tag is still a plain reply


def answer_start(text: str, tags: Tags = DEFAULT_TAGS) -> int | None:
    """Where the answer part of a reply starts (after the last closing tag; 0 without thinking), or
    None when the thinking never ended: stop strings cut only the answer, never the thinking."""
    opening, closing = tags
    close = closing_at(text, closing)
    if close >= 0:
        return close + len(closing)
    return None if text.lstrip().startswith(opening) else 0


def tagged(reasoning: str | None, content: str, cut_off: bool, tags: Tags = DEFAULT_TAGS) -> str:
    """A server's separate reasoning field and answer as one tagged reply: ``cut_off`` (the length
    limit ended the reply) with no answer yet leaves the thinking unclosed."""
    if not reasoning:
        return content
    opening, closing = tags
    if cut_off and not content:
        return f"{opening}{reasoning}"
    return f"{opening}{reasoning}{closing}{content}"


#: generation budget of every generation task with --thinking on (unless --max-new-tokens says otherwise)
BUDGET = 4096


def check_run(config, manager) -> None:
    """``--thinking on`` asks the model to think before answering; log-likelihood scoring reads the
    option tokens right after the prompt, where a thinking model would start thinking: refused."""
    from medbench.data.catalog import leaf_tasks, task_config

    if config.thinking != "on":
        return
    loglik = [
        leaf
        for name in config.resolved_tasks
        for leaf in leaf_tasks(manager, name)
        if task_config(manager, leaf).get("output_type") != "generate_until"
    ]
    if loglik:
        raise MedbenchError(
            f"--thinking on: {', '.join(loglik[:3])}{' ...' if len(loglik) > 3 else ''} score(s) options by "
            "log-likelihood, where a thinking model cannot think; add --mode gen"
        )


def switch(lm, mode: str) -> None:
    """The chat template's thinking switch, for a model that renders chat (lm-eval's ``hf`` keeps it in
    ``chat_template_args``; the openai backend sends it as ``chat_template_kwargs``)."""
    if mode != "auto" and isinstance(getattr(lm, "chat_template_args", None), dict):
        lm.chat_template_args["enable_thinking"] = mode == "on"


def use_tags(lm, tags: Tags) -> None:
    """A backend that reads thinking itself (a server's separate reasoning field folded into the reply,
    stop strings cut only after the thinking) reads the run's ``--think-tags``."""
    if hasattr(lm, "think_tags"):
        lm.think_tags = tags


def token_counts(reply: Reply, encode: Callable[[str], list] | None) -> dict:
    """``thinking_tokens`` and ``answer_tokens`` of a reply, counted with the model's own tokenizer
    (``encode``); nothing without one (a chat API) or without thinking, rather than a guess."""
    if encode is None or reply.thinking is None:
        return {}
    return {"thinking_tokens": len(encode(reply.thinking)), "answer_tokens": len(encode(reply.answer))}


def summary(samples: Path) -> list[str]:
    """One line per task whose replies thought: how many did, how many were cut off, their mean
    thinking tokens (where counted) and the accuracy."""
    lines = []
    for path in sorted(Path(samples).glob("*.jsonl")):
        records = [record.item(v, f"{path}:{n}").line() for n, v in sample_files.lines(path)]
        thought = [r for r in records if "thinking" in r]
        if not thought:
            continue
        cut = sum(bool(r.get("thinking_cut_off")) for r in thought)
        counted = [r["thinking_tokens"] for r in thought if "thinking_tokens" in r]
        mean = f", mean {sum(counted) / len(counted):.0f} thinking tokens" if counted else ""
        scored = [r["correct"] for r in records if "correct" in r]
        accuracy = f"; accuracy {100 * sum(scored) / len(scored):.2f}" if scored else ""
        lines.append(
            f"{path.stem}: {len(thought)}/{len(records)} replies thought, {cut} cut off{mean}{accuracy}"
        )
    return lines
