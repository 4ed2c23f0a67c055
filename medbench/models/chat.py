"""``--chat``: every task's prompt through the model's chat template, the way lm-eval does it.

lm-eval builds the messages (the task's description, or ``--system-prompt``, as the system turn; the
few-shot examples as alternating user/assistant turns, or all in one user turn) and the model renders
them: ``hf`` with the tokenizer's template (``enable_thinking`` and the like from
``chat_template_args``), the ``openai`` backend by sending the messages themselves.

A dialogue item is already a list of turns. Its hook hands them to lm-eval as one encoded user
message (:func:`encode`), and :func:`expand` puts the turns back in place before the model renders
them, so a dialogue is never a chat template wrapped inside another.
"""

from __future__ import annotations

import json

_MARK = "\x00medbench-messages:"


def encode(messages: list[dict]) -> str:
    """Turns carried through lm-eval's prompt building as one string."""
    return _MARK + json.dumps(messages, ensure_ascii=False)


def decode(text: str) -> list[dict] | None:
    """The turns :func:`encode` carried, or None for an ordinary prompt."""
    if not isinstance(text, str) or not text.startswith(_MARK):
        return None
    return json.loads(text[len(_MARK) :])


def expand(history: list[dict]) -> list[dict]:
    """lm-eval's chat history with encoded dialogues put back as turns; system turns that end up next
    to each other are joined (a template takes one), and a system turn loses the blank line a task's
    description ends with (it separates the description from the shots in a plain prompt)."""
    out: list[dict] = []
    for message in history:
        turns = decode(message.get("content")) if message.get("role") == "user" else None
        for turn in turns or [message]:
            content = turn["content"].rstrip() if turn["role"] == "system" else turn["content"]
            if turn["role"] == "system" and out and out[-1]["role"] == "system":
                out[-1] = {"role": "system", "content": f"{out[-1]['content']}\n\n{content}"}
            else:
                out.append({"role": turn["role"], "content": content})
    return out
