"""Answer extraction for generated multiple-choice replies: an ordered, tested pattern table.

The first pattern (in priority order) that yields letters among the item's options decides, and
within it the **last** such match: a long reply that corrects itself (``答案是A……不对，答案是C``)
commits to its final answer; a match that offers an alternative (``答案：A或B``) commits to none.
Anything else is ``UNPARSED``: counted as a parse failure, never
silently scored as some letter. Full-width characters are folded (NFKC) first, so ``答案：（Ａ）``
reads as ``答案:(A)``. A reasoning model's thinking is removed before this runs
(:mod:`medbench.models.thinking`).

A reply in the CMExam form, its answer slot before its explanation (``答案：D`` then ``解释：…``), is
read from the slot: the explanation may discuss other options (``解释：答案是C的说法…``) and never
overrides it, as CMExam's own scripts read ``答案：(.*)`` and ``解释：(.*)`` apart. Only when the text
before the explanation names no answer is the whole reply read.

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
#: after a letter group, another letter offered as an alternative (A或B, C还是D, A or B): a hedge
#: (markup closing the first, the alternative word, a cue or markup opening the second, then the second
#: letter standing alone -- not the start of an acronym, B超, B型, CT, ECG -- before punctuation, the end
#: or a word that goes on about both). Group 1: the second letter, which must be an option.
_OR = r"(?:\*\*|\})? ?(?:或者?|还是|(?i:or)) ?(?:选项?|选择|答案|\*\*|\\boxed ?\{)? ?"
_HEDGE = re.compile(
    rf"{_OR}([A-Z])(?![A-Za-z0-9'])(?=$|[ .,;:!?)）*}}。，；：、！？]|都|均|也|皆|中|之间|哪|选项|项|是|为)"
)
#: the same seen from the second letter's side: the text before a match ends in ``A或`` (``A或B是正确的``)
_HEDGED_BEFORE = re.compile(rf"([A-Z]){_OR}$")
#: where a reply's explanation starts (after NFKC folding, so ``解释：`` is ``解释:``)
_EXPLANATION = re.compile(r"(?:解释|解析)\s*:")

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
    explanation = _EXPLANATION.search(folded)
    if explanation and explanation.start() > 0:
        slot = _patterns(folded[: explanation.start()], allowed)
        if slot:
            return slot
    found = _patterns(folded, allowed)
    if found:
        return found
    if options:
        quoted = [letter for letter, option in options if option and option in folded]
        if len(quoted) == 1:
            return quoted[0]
    return UNPARSED


def _patterns(folded: str, allowed: set[str]) -> str | None:
    """The letters of the first pattern (in priority order) that finds any, its last match deciding; a
    match that goes on to an alternative (``答案：A或B``) commits to nothing: ``UNPARSED``, never A."""
    for _, pattern in PATTERNS:
        final, hedge_end = None, -1
        for match in pattern.finditer(folded):
            if match.start() < hedge_end:  # the alternative a hedge offered, not a correction
                continue
            hedged = _HEDGE.match(folded, match.end(1))
            before = _HEDGED_BEFORE.search(folded, max(0, match.start(1) - 16), match.start(1))
            if hedged and hedged.group(1) in allowed:
                final, hedge_end = UNPARSED, hedged.end()
            elif before and before.group(1) in allowed:
                final = UNPARSED
            else:
                final = _letters(match.group(1), allowed) or final
        if final:
            return final
    return None
