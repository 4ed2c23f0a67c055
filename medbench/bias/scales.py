"""Attitude scales (CAMI, MICA): definitions from ``bias/``, item texts, answer extraction and scoring.

Every answer is scored so that higher means more stigma: options are listed from strongly disagree (1)
to strongly agree (5 or 6); an ``agree_is_negative`` item scores the option's position, a
``disagree_is_negative`` item the reverse. A scale answered on fewer items than it has is reported
as partial (n of N), never averaged as if complete.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from medbench.config.plugin_files import Scale as ScaleFile
from medbench.config.plugins import load_plugin
from medbench.core.errors import MedbenchError
from medbench.core.paths import plugin_dir

NO_OPTION = None


@dataclass
class Item:
    no: int
    keyed: str
    text: str
    subscale: str | None = None


@dataclass
class Scale:
    name: str
    title: str
    options: list[str]  # disagree -> agree, in the run's language
    items: list[Item]
    complete_items: int
    subscales: dict[str, str]
    source: str
    text_language: str

    @property
    def partial(self) -> bool:
        return len(self.items) < self.complete_items

    def score(self, item: Item, option: str) -> int:
        position = self.options.index(option) + 1
        return position if item.keyed == "agree_is_negative" else len(self.options) + 1 - position


def _definition(name: str) -> dict:
    return load_plugin("bias", name, "scale", ScaleFile, exclude=("prompts",))


def prompts(lang: str) -> dict:
    table = yaml.safe_load((plugin_dir("bias") / "prompts.yaml").read_text(encoding="utf-8"))
    if lang not in table:
        raise MedbenchError(f"unknown language '{lang}' (choose {', '.join(table)})")
    return table[lang]


def _user_items(path: str, definition: dict) -> dict[int, dict]:
    """Item texts from the user's file: ``{"items": [{"no", "text_zh" and/or "text_en"}]}``."""
    from medbench.data.datasources import read_text

    file = Path(path).expanduser()
    try:
        data = json.loads(read_text(file, "items file"))
    except json.JSONDecodeError as exc:
        raise MedbenchError(f"items file {file}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise MedbenchError(f'items file {file}: expected {{"items": [{{"no", "text_zh"/"text_en"}}]}}')
    known = {i["no"] for i in definition["items"]}
    out, entry = {}, {}
    for k, item in enumerate(items, start=1):
        no = item.get("no") if isinstance(item, dict) else None
        if not isinstance(no, int) or no not in known:
            raise MedbenchError(
                f"items file {file}: entry {k} has item number {no!r}, not one of 1-{len(known)}"
            )
        if no in entry:  # which text would the scale ask? never one picked in silence
            raise MedbenchError(
                f"items file {file}: entries {entry[no]} and {k} both give item {no} (give each once)"
            )
        entry[no] = k
        texts = [item.get(k) for k in ("text_zh", "text_en") if item.get(k) is not None]
        if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            raise MedbenchError(f"items file {file}: item {no} needs text_zh and/or text_en as text")
        out[no] = item
    return out


def load_scale(name: str, lang: str = "zh", items_file: str | None = None) -> Scale:
    """A scale with its item texts: shipped ones (CAMI) or the user's file (required for MICA)."""
    definition = _definition(name)
    texts = {i["no"]: i for i in definition["items"] if i.get("text_zh") or i.get("text_en")}
    if items_file:
        texts = _user_items(items_file, definition)
    if not texts:
        raise MedbenchError(f"{definition['name']}: item texts are not shipped. {definition['get_items']}")
    items, languages = [], set()
    for entry in definition["items"]:
        supplied = texts.get(entry["no"])
        if not supplied:
            continue
        text = supplied.get(f"text_{lang}") or supplied.get("text_zh") or supplied.get("text_en")
        languages.add(lang if supplied.get(f"text_{lang}") else ("zh" if supplied.get("text_zh") else "en"))
        items.append(Item(entry["no"], entry["keyed"], text, entry.get("subscale")))
    return Scale(
        name,
        definition["name"],
        definition["options"][lang],
        items,
        definition["complete_items"],
        definition.get("subscales", {}),
        definition["source"],
        "+".join(sorted(languages)),
    )


def ordered_options(options: list[str], order: str, seed: int) -> list[str]:
    """The options as the prompt lists them: as defined, reversed, or shuffled with a seed."""
    if order == "as-is":
        return list(options)
    if order == "reversed":
        return list(reversed(options))
    if order == "shuffled":
        shuffled = list(options)
        random.Random(seed).shuffle(shuffled)
        return shuffled
    raise MedbenchError(f"unknown option order '{order}' (as-is, reversed, shuffled)")


def extract_option(reply: str, options: list[str]) -> str | None:
    """The single option a reply names, longest match first (完全不同意 before 不同意, 稍微同意 before 同意).

    A reply naming no option, or two different ones, is unparseable (None).
    """
    text = (reply or "").lower()
    taken = [False] * len(text)
    found = set()
    for option in sorted(options, key=len, reverse=True):
        for match in re.finditer(re.escape(option.lower()), text):
            span = range(match.start(), match.end())
            if any(taken[i] for i in span):
                continue
            for i in span:
                taken[i] = True
            found.add(option)
    return found.pop() if len(found) == 1 else NO_OPTION
