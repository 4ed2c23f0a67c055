"""One chat-completion request to an OpenAI-compatible server, shared by ``run`` and ``judge``.

The ``openai`` client retries 408/409/429/5xx answers, timeouts and dropped connections. A server
can also answer 200 with something that is not a chat completion (no ``choices``, an empty list, a
wrong schema, a non-JSON body); the client does not check that, so this module does: such a reply is
retried like a 5xx and, if it stays malformed, fails like one -- it never crashes a run and is never
read as an empty answer. A very long reply is cut at ``max_chars`` (and says so). Error text that
goes into a run folder has the API key and any ``Authorization`` header redacted first.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass, field

#: default cap on a stored reply (characters)
MAX_REPLY_CHARS = 65536


class BadReply(Exception):
    """The server answered, but not with a chat completion."""


@dataclass
class Reply:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    truncated: bool = False
    reasoning: str = ""  # a reasoning parser's separate field (``reasoning_content`` / ``reasoning``)
    cut_off: bool = False  # the server's length limit ended the reply (finish_reason "length")


@dataclass
class Usage:
    """What a client's requests cost and how they ended (the openai backend and the judge alike)."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: int = 0  # answered from a cache, no request made
    cache_rejected: int = 0  # cached values of the wrong shape or range: a miss, asked again
    failures: list[dict] = field(default_factory=list)  # failed after retries: where and why
    truncated: list[dict] = field(default_factory=list)  # replies cut at max_reply_chars

    def add(self, reply: Reply) -> None:
        self.requests += 1
        self.prompt_tokens += reply.prompt_tokens
        self.completion_tokens += reply.completion_tokens


def _get(obj, name: str):
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def reply_text(reply) -> str:
    """The first choice's message text; :class:`BadReply` says what is wrong with anything else."""
    if isinstance(reply, (str, bytes)):
        raise BadReply("the server's answer is not JSON")
    choices = _get(reply, "choices")
    if not isinstance(choices, list):
        raise BadReply(f"'choices' is {type(choices).__name__}, expected a list")
    if not choices:
        raise BadReply("'choices' is empty")
    message = _get(choices[0], "message")
    if message is None:
        raise BadReply("the first choice has no 'message'")
    content = _get(message, "content")
    if content is None:
        return ""  # e.g. a reasoning model that wrote only reasoning: an empty answer, not a failure
    if not isinstance(content, str):
        raise BadReply(f"'message.content' is {type(content).__name__}, expected text")
    return content


def reply_reasoning(reply) -> tuple[str, bool]:
    """The first choice's separate reasoning text (vLLM's and others' reasoning parsers) and whether
    the length limit cut the reply; ("", False) where there is none."""
    choice = _get(reply, "choices")[0]
    message = _get(choice, "message")
    reasoning = _get(message, "reasoning_content") or _get(message, "reasoning") or ""
    return (reasoning if isinstance(reasoning, str) else ""), _get(choice, "finish_reason") == "length"


def _tokens(reply, name: str) -> int:
    value = _get(_get(reply, "usage"), name)
    return value if isinstance(value, int) else 0


def redact(text: str) -> str:
    """Error text with the API key and bearer tokens removed (servers echo request headers)."""
    key = os.environ.get("OPENAI_API_KEY") or ""
    if len(key) >= 4:
        text = text.replace(key, "[redacted]")
    return re.sub(r"(?i)(bearer\s+)[^\s\"',}]+", r"\1[redacted]", text)


def describe(exc: BaseException) -> str:
    return redact(f"{type(exc).__name__}: {exc}")


async def complete(client, body: dict, attempts: int, max_chars: int = MAX_REPLY_CHARS) -> Reply:
    """One chat completion; an answer that is not a chat completion (a schema the client cannot
    read, a body that is not JSON) is asked again up to ``attempts`` more times. Status and
    connection errors propagate: the client has retried those already."""
    import openai

    for attempt in range(attempts + 1):
        try:
            reply = await client.chat.completions.create(**body)
            text = reply_text(reply)
        except (openai.APIStatusError, openai.APIConnectionError):
            raise
        except Exception:
            if attempt == attempts:
                raise
            await asyncio.sleep(min(0.25 * 2**attempt, 4.0))
            continue
        reasoning, cut_off = reply_reasoning(reply)
        return Reply(
            text[:max_chars],
            _tokens(reply, "prompt_tokens"),
            _tokens(reply, "completion_tokens"),
            len(text) > max_chars,
            reasoning[:max_chars],
            cut_off,
        )
    raise AssertionError("unreachable")


def client(base_url: str, max_retries: int, timeout: float, key_env: str = "OPENAI_API_KEY"):
    """The async OpenAI client every medbench command uses (key from ``OPENAI_API_KEY``, or the
    variable a jury's judge names)."""
    from openai import AsyncOpenAI

    return AsyncOpenAI(
        base_url=base_url,
        api_key=os.environ.get(key_env) or "EMPTY",
        max_retries=max_retries,
        timeout=timeout,
    )
