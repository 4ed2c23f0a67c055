"""The run context lm-eval's task hooks are given: passed in, never read from hidden state.

lm-eval calls a task's ``process_results`` with ``(doc, results)`` and a custom filter with
``(resps, docs)``: nothing says which run they serve. Yet scoring depends on two run settings -- the
model's thinking tags (``--think-tags``: the answer is what follows the closing tag) and the LLM
extractor (``--extractor llm``: replies the patterns cannot read go to a judge model). A hook that
needs them declares a keyword-only ``context`` parameter defaulting to :data:`PLAIN`;
:func:`medbench.run.tasks.build` binds the run's :class:`HookContext` to every such hook of the tasks
it builds (:class:`Bound`). Under plain ``lm_eval --include_path tasks`` nothing binds them and the
hooks score with the defaults: ``<think>``/``</think>``, patterns only.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEFAULT_TAGS = ("<think>", "</think>")


@dataclass(frozen=True)
class HookContext:
    """What a run tells its task hooks: the thinking tags and the LLM extractor (or the replayed
    runs' recorded readings), None for patterns only."""

    tags: tuple[str, str] = DEFAULT_TAGS
    extractor: Any = None

    def __repr__(self) -> str:  # lm-eval writes a hook's text into results.json: keep it stable
        return f"HookContext(tags={self.tags!r}, extractor={'llm' if self.extractor else None})"


#: the context of a hook nothing bound (plain lm-eval)
PLAIN = HookContext()


def takes_context(hook: object) -> bool:
    """Whether ``hook`` declares the keyword-only ``context`` parameter."""
    if not callable(hook) or isinstance(hook, Bound):
        return False
    try:
        parameter = inspect.signature(hook).parameters.get("context")
    except (TypeError, ValueError):  # a builtin without a signature
        return False
    return parameter is not None and parameter.kind is inspect.Parameter.KEYWORD_ONLY


class Bound:
    """``hook`` called with the run's ``context``. Its text in lm-eval's results.json is the hook's
    source (as lm-eval writes an unbound hook's), never an address that changes every run."""

    def __init__(self, hook: Callable[..., Any], context: HookContext) -> None:
        self.hook, self.context = hook, context

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.hook(*args, context=self.context, **kwargs)

    def __repr__(self) -> str:
        try:
            return inspect.getsource(self.hook)
        except (TypeError, OSError):
            return f"{self.hook.__module__}.{self.hook.__qualname__}"
