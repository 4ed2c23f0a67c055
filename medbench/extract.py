"""Answer extraction for generated multiple-choice replies: an ordered, tested pattern table.

The first pattern (in priority order) that yields letters among the item's options decides, and
within it the **last** such match: a long reply that corrects itself (``答案是A……不对，答案是C``)
commits to its final answer. Anything else is ``UNPARSED``: counted as a parse failure, never
silently scored as some letter. Full-width characters are folded (NFKC) first, so ``答案：（Ａ）``
reads as ``答案:(A)``. A reasoning model's thinking is removed before this runs
(:mod:`medbench.thinking`).

Every pattern runs in time linear in the reply (a model can emit anything, and one reply that makes
the regex engine backtrack exponentially hangs a whole run): whitespace runs are collapsed to one
space before matching, so no two adjacent optional pieces can share the same characters; the
separator between letters is a single unambiguous choice; and a letter group is at most
``MAX_GROUP`` letters long (more than any item has options).
"""

from __future__ import annotations

import re
import unicodedata

UNPARSED = "[unparsed]"

MAX_GROUP = 16
# One option letter: an upper-case letter not starting a Latin word ("Based" is not B, "Let's" not L).
_LETTER = r"[A-Z](?![a-z'])"
# Between two letters: a listed separator with an optional space each side, or one optional space.
# The alternatives cannot match the same text, so a failed match never retries other splits.
_SEP = r"(?: ?[、,，/和及与] ?| ?)"
_GROUP = rf"({_LETTER}(?:{_SEP}{_LETTER}){{0,{MAX_GROUP - 1}}})"
_WHITESPACE = re.compile(r"\s+")

#: (name, pattern) in priority order; group 1 holds the letters.
PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("\\boxed{X}", re.compile(rf"\\boxed\s*\{{\s*(?:\\text\{{)?\s*{_GROUP}\s*\}}")),
    (
        "答案：X / 答案是X / 答案是(X)",
        re.compile(rf"答案\s*(?:应该|应|是|为)?\s*[:]?\s*(?:是|为|选)?\s*\(?{_GROUP}"),
    ),
    (
        "answer: X / answer is (X) / answer should be X",
        re.compile(rf"(?i:answer)\s*(?:is|:|should be|would be)\s*\(?(?:option\s*)?{_GROUP}"),
    ),
    ("**X**", re.compile(rf"\*\*\s*(?:选项)?{_GROUP}\s*\*\*")),
    ("选X (not 不选X)", re.compile(rf"(?<!不)(?<!不应)选(?:择)?(?:项)?\s*[:]?\s*{_GROUP}")),
    ("X是正确的", re.compile(rf"{_GROUP}\s*(?:项|选项)?\s*(?:是|为)?\s*(?:正确|对)")),
    ("bare letters", re.compile(rf"^\s*(?:\(|（)?{_GROUP}\s*(?:\)|）)?(?:[.。:、,，\s]|$)(?![a-z])")),
]


def _letters(group: str, allowed: set[str]) -> str | None:
    found = set(re.findall(r"[A-Z]", group))
    return "".join(sorted(found)) if found and found <= allowed else None


def extract_choice(text: str, letters: list[str], options: list[list[str]] | None = None) -> str:
    """The answer letters a reply commits to (sorted, e.g. ``"AC"``), or ``UNPARSED``.

    ``options`` (``[[letter, text], ...]``) enables the last resort: the reply quotes exactly one
    option's text.
    """
    folded = _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text or ""))
    allowed = set(letters)
    for _, pattern in PATTERNS:
        final = None
        for match in pattern.finditer(folded):
            final = _letters(match.group(1), allowed) or final
        if final:
            return final
    if options:
        quoted = [letter for letter, option in options if option and option in folded]
        if len(quoted) == 1:
            return quoted[0]
    return UNPARSED
