"""Prompt templates (Jinja2, in plug-in files) rendered strictly: a placeholder with no value is an
error, never an empty string in a prompt. Shared by every task family, the judge and the bias scales."""

from __future__ import annotations

import functools

import jinja2

_JINJA = jinja2.Environment(keep_trailing_newline=True, undefined=jinja2.StrictUndefined)


@functools.lru_cache(maxsize=64)
def _compile(template: str) -> jinja2.Template:
    return _JINJA.from_string(template)


def render_template(template: str, context: dict) -> str:
    return _compile(template).render(**context)
