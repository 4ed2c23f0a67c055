"""Where a judge's reply names one of the two answers it compared, however it names them.

The rubrics ask for answer 1's result as one label, but judges often rate each answer on its own
line and name the answers as they like: ``回答一：胜 / 回答二：负``, ``First answer: Win``,
``Response A``, ``[[B]]``. A parser that knows only the rubric's spelling (``回答1``) reads such a
reply by its last line -- answer 2's -- and so backwards (issue 36: 7 of 12 common forms were). Here
an answer is named by a word for an answer with its number (``回答二``, ``答案B``, ``Answer 2``,
``Model A``), an ordinal before the word (``第二个回答``, ``the second response``), ``[[B]]``, or the
rubric's own names; its seat is 0 (answer 1), 1 (answer 2) or None (``回答3``: neither). A name right
after a comparison (``相对于回答2``, ``than Answer 2``) is what the other answer is measured against,
not the answer a label rates. Every pattern is a bounded alternation: linear in the line.
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass

_ZH_NOUN = "回答|答案|答复|回复|应答|助手|模型"
_EN_NOUN = "answer|response|reply|assistant|model|output|candidate"
#: a Chinese numeral that names an answer (回答一), not one that starts a word (回答一致, 回答一下)
_ZH_NUMERAL = "[一二三四甲乙丙丁](?![致下样般些定切起直点者次])"
_LETTER = "(?-i:[A-D])(?![A-Za-z0-9])"  # capital A-D: "answer a patient" names no answer
SEATS = {"1": 0, "2": 1, "一": 0, "二": 1, "甲": 0, "乙": 1, "a": 0, "b": 1, "one": 0, "two": 1}
SEATS |= {"first": 0, "second": 1, "1st": 0, "2nd": 1}

#: what may stand between an answer's name and the label given to it (``回答1：胜``, ``Answer 2 is
#: Lose``, ``回答2的结果是“负”``); a comma may not (``回答2更全面，负`` gives no label to answer 2)
ATTACH = r"(?:[\s:：=是为的结果判定评价得\"“”'「」*\-—()（）\[\]【】>→]|is|gets|result|verdict|rating){0,8}"

#: the words before a name that make it the answer compared against (``回答1相对于回答2：胜``)
_COMPARED = re.compile(
    r"(?:相对于|相较于|相比于|相比|对比|比起|比|较|[优劣好强胜差高低逊]于|不如|胜过|超过|vs\.?|versus"
    r"|relative\s+to|compared\s+(?:to|with)|than|over|against)\s*[\"“'「*]*\s*$",
    re.IGNORECASE,
)

#: a number or letter right before a label that no known name holds (``候选2：胜``, ``Option B: Win``,
#: ``A：胜``): an answer named in a way not known here, so the label's owner is unknown. A capital
#: letter needs more than a space after it to be a name (``A Tie would ...`` is an article).
_UNKNOWN_NAME = re.compile(
    r"(?:\d|[一二三四甲乙丙丁]|(?<![A-Za-z])(?:first|second|1st|2nd)"
    r"|(?<![A-Za-z])(?-i:[A-D])\s*(?:[:：=是为的(（\[【*\-—>→\"“「]|is\b))" + ATTACH + "$",
    re.IGNORECASE,
)
_LOOK_BACK = 40  # characters before a name or label that decide how it is read


@dataclass(frozen=True)
class Ref:
    """One naming of an answer in a line."""

    start: int
    end: int
    seat: int | None  # 0: answer 1, 1: answer 2, None: an answer that is neither
    compared: bool  # named as what another answer is measured against


def _name(name: str) -> str:
    """A rubric's answer name, spaced or not before its number (``回答 1``, ``Answer1``)."""
    head, number = re.fullmatch(r"(.*?)\s*(\d*)", name).groups()
    return re.escape(head) + (rf"\s*{number}(?!\d)" if number else "")


@functools.lru_cache(maxsize=16)
def _pattern(names: tuple[str, ...]) -> re.Pattern:
    rubric = [f"(?P<rubric{i}>{_name(n)})" for i, n in enumerate(names)]
    forms = [
        *rubric,
        rf"(?<![A-Za-z])(?:{_EN_NOUN})\s*(?:#|no\.)?\s*[(（]?\s*"
        rf"(?P<en>\d+|{_LETTER}|(?:one|two|three)(?![A-Za-z]))",
        rf"(?<![A-Za-z])(?P<ord>first|second|third|1st|2nd|3rd)\s+(?:{_EN_NOUN})(?![A-Za-z])",
        rf"第\s*(?P<zhord>[一二三1-3])\s*[个条份位种]?\s*(?:{_ZH_NOUN})",
        rf"(?:{_ZH_NOUN})\s*[#(（]?\s*(?P<zh>\d+|{_LETTER}|{_ZH_NUMERAL})",
        r"\[\[(?P<br>(?-i:[A-D])|\d)\]\]",
    ]
    return re.compile("|".join(forms), re.IGNORECASE)


def refs(line: str, names: tuple[str, ...]) -> list[Ref]:
    """Every naming of an answer in one line, in order (``names``: the rubric's, answer 1's first)."""
    found = []
    for m in _pattern(names).finditer(line):
        group, index = next((g, v) for g, v in m.groupdict().items() if v is not None)
        seat = int(group[6:]) if group.startswith("rubric") else SEATS.get(index.lower())
        compared = bool(_COMPARED.search(line[max(0, m.start() - _LOOK_BACK) : m.start()]))
        found.append(Ref(m.start(), m.end(), seat, compared))
    return found


def last_before(named: list[Ref], position: int) -> Ref | None:
    """The last of a line's names (in order) that ends at or before ``position``."""
    before = bisect.bisect_right(named, position, key=lambda r: r.end)  # names never overlap
    return named[before - 1] if before else None


def owner(named: list[Ref], line: str, label_start: int) -> Ref | None:
    """The name a label at ``label_start`` is given to: the last name before it, when only
    :data:`ATTACH` stands between them."""
    ref = last_before(named, label_start)
    gap = line[ref.end : label_start] if ref else None
    if gap is not None and len(gap) <= _LOOK_BACK and re.fullmatch(ATTACH, gap, re.IGNORECASE):
        return ref
    return None


def unknown_name_before(line: str, label_start: int) -> bool:
    """Whether a label no known name holds follows something that names an answer all the same."""
    return bool(_UNKNOWN_NAME.search(line[max(0, label_start - _LOOK_BACK) : label_start]))
