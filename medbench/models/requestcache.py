"""The per-model request cache that lets a killed run resume: lm-eval's ``CachingLM``, made safe.

lm-eval's own cache differs in three ways that matter to a harness people trust:

- it stores values with pickle, so a cache file received with someone's runs folder runs code when
  it is read; here every value is JSON (``SqliteDict`` with JSON ``encode``/``decode``), and a value
  that is not JSON (an old pickle, a planted payload) is never unpickled: it is a miss;
- it stores whatever the model returned, failed API requests included (as ``""``), so a run
  interrupted between generation and scoring resumes with failures scored as empty answers; here a
  :class:`FailedReply` is never stored, whatever the moment of the interruption;
- it never caches sampled generations, so a killed sampled run starts over; here they are stored
  under (request, seed, repeat): a resumed run keeps every finished sample, and a finished run
  re-run with the same seed gives the same outputs.

A cache holds what medbench wrote, and is read like user input: every value is checked against the
shape and range its producer can emit (:data:`VALID`); anything else -- a JSON ``null``, a number
where a reply belongs, a positive log-likelihood -- is a miss, counted (``cache_rejected`` in
calls.json) and asked again, never an answer. A file that is not a readable SQLite database (cut
short, or something else under the cache's name) is set aside with one warning and the work redone.
A *plausible* planted value (``"答案：B"``) cannot be told from a real one: a cache is as trustworthy
as whoever wrote it (README, "What medbench guarantees").
"""

from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lm_eval.api.model import LM, CacheHook

from medbench.core._compat import request_hash, sqlite_dict
from medbench.core.errors import MedbenchError
from medbench.core.writing import make_folder
from medbench.models.chat import expand

log = logging.getLogger("medbench")


class FailedReply(str):
    """A request that failed after retries: an empty answer that no cache may keep."""

    def __new__(cls, error: str) -> FailedReply:
        reply = super().__new__(cls, "")
        reply.error = error
        return reply


#: what a cache lookup returns for an absent key or a value that is not JSON
MISS = _MISS = object()


def _decode(value: bytes | str) -> Any:
    """JSON only; anything else reads as a miss and is never unpickled."""
    try:
        return json.loads(value)
    except (ValueError, TypeError, RecursionError):
        return _MISS


def _encode(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def open_cache(path: str):
    """A JSON-valued SqliteDict (keys are request hashes). A file there that SQLite cannot read is
    renamed ``<name>.unreadable-<time>`` (kept for a look, never read again) and a new cache begun."""
    if os.path.dirname(path):
        make_folder(Path(os.path.dirname(path)), "the cache")
    try:
        if os.path.getsize(path) if os.path.exists(path) else 0:
            with closing(sqlite3.connect(path)) as db:  # before sqlitedict's thread, which would die noisily
                verdict = db.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                raise sqlite3.DatabaseError(verdict)
        return sqlite_dict(path, _encode, _decode)
    except sqlite3.DatabaseError as exc:
        aside = f"{path}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}"
        os.replace(path, aside)
        log.warning(
            "cache %s is not a readable SQLite file (%s): set aside as %s; its work is redone",
            path,
            exc,
            aside,
        )
        return sqlite_dict(path, _encode, _decode)


def _loglik(value: Any) -> bool:
    """A log-likelihood as a model computes it: a finite number, never above 0 (beyond rounding)."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value <= 1e-4
    )


#: per request kind, what a value the model computed looks like (after a JSON round trip)
VALID: dict[str, Callable[[Any], bool]] = {
    "loglikelihood": lambda v: (
        isinstance(v, list) and len(v) == 2 and _loglik(v[0]) and isinstance(v[1], bool)
    ),
    "loglikelihood_rolling": _loglik,
    "generate_until": lambda v: isinstance(v, str),
}


def valid_value(attr: str, value: Any) -> bool:
    """Whether ``value`` is something the model could have answered to an ``attr`` request."""
    check = VALID.get(attr)
    return check is not None and check(value)


class _Hook(CacheHook):
    """Backends store each answer as soon as it is computed (so ``kill -9`` loses nothing); failures
    and sampled answers go through :class:`RequestCache` instead."""

    def __init__(self, cache: RequestCache) -> None:
        self.cache = cache
        self.dbdict = cache.db

    def add_partial(self, attr: str, req, res) -> None:
        if not isinstance(res, FailedReply):
            self.cache.db[self.cache.key(attr, req)] = res


#: what lm-eval asks of a model besides the request methods (forwarded to the wrapped model)
_FORWARDED = (
    "all_gather",
    "barrier",
    "chat_template",
    "device",
    "gather_object",
    "rank",
    "tokenizer_name",
    "world_size",
)


@dataclass
class Calls:
    """Per request kind, what one run's requests met (calls.json): asked of the model, answered by
    the cache (a re-run's finished work), and cached values refused (no model could have answered
    them: :data:`VALID`)."""

    asked: Counter = field(default_factory=Counter)
    from_cache: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)


class RequestCache(LM):
    """Wraps an lm-eval ``LM`` -- the one wrapper a run puts around its model: cached answers come
    from the cache, the rest from the model, every request counted (:class:`Calls`), and with
    ``expand_chat`` an encoded dialogue is rendered as its own turns (:func:`medbench.models.chat.expand`).

    ``seed`` and ``repeat`` key sampled generations; ``answer_only`` turns a miss into an error (used
    to rescore a run from its own answers, where a miss would mean a new prompt).
    """

    def __init__(
        self,
        lm,
        path: str,
        seed: int = 0,
        repeat: int = 0,
        answer_only: bool = False,
        calls: Calls | None = None,
        expand_chat: bool = False,
    ) -> None:
        super().__init__()
        self.lm, self.path = lm, path
        self.calls = calls if calls is not None else Calls()
        self.seed, self.repeat, self.answer_only = seed, repeat, answer_only
        self.expand_chat = expand_chat
        self.db = open_cache(path)
        lm.set_cache_hook(_Hook(self))

    def apply_chat_template(self, chat_history: list[dict], add_generation_prompt: bool = True) -> str:
        history = expand(chat_history) if self.expand_chat else chat_history
        return self.lm.apply_chat_template(history, add_generation_prompt)

    def __getattribute__(self, attr: str):
        if attr in _FORWARDED:
            return getattr(object.__getattribute__(self, "lm"), attr)
        return object.__getattribute__(self, attr)

    def __getattr__(self, attr: str):
        return getattr(self.lm, attr)

    def key(self, attr: str, args) -> str:
        if attr == "generate_until" and args[1].get("do_sample", False):
            return request_hash(attr, [*args, {"seed": self.seed, "repeat": self.repeat}])
        return request_hash(attr, args)

    def loglikelihood(self, requests, *args, **kwargs):
        return self._cached("loglikelihood", requests, *args, **kwargs)

    def loglikelihood_rolling(self, requests, *args, **kwargs):
        return self._cached("loglikelihood_rolling", requests, *args, **kwargs)

    def generate_until(self, requests, *args, **kwargs):
        return self._cached("generate_until", requests, *args, **kwargs)

    def _cached(self, attr: str, requests, *args, **kwargs) -> list:
        answers: list = []
        missing = []
        for i, request in enumerate(requests):
            found = self.db.get(self.key(attr, request.args), _MISS)
            if found is not _MISS and not valid_value(attr, found):
                self.calls.rejected[attr] += 1
                found = _MISS
            answers.append(found)
            if found is _MISS:
                missing.append(i)
        self.calls.from_cache[attr] += len(requests) - len(missing)
        if self.calls.rejected[attr]:
            log.warning(
                "request cache %s held %d %s value(s) no model could have answered: asked again",
                self.path,
                self.calls.rejected[attr],
                attr,
            )
        if missing and self.answer_only:
            raise MedbenchError(
                f"rescoring needed {len(missing)} {attr} request(s) that the run never answered "
                "(prompts changed between passes?)"
            )
        if missing:
            self.calls.asked[attr] += len(missing)
        fresh = getattr(self.lm, attr)([requests[i] for i in missing], *args, **kwargs) if missing else []
        for i, answer in zip(missing, fresh, strict=True):
            answers[i] = answer
            if not isinstance(answer, FailedReply):
                self.db[self.key(attr, requests[i].args)] = answer
        self.db.commit()
        return answers

    def close(self) -> None:
        self.db.close()
