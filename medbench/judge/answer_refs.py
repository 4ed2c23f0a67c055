"""Where a judge's reply names one of the two answers it compared, however it names them.

The rubrics ask for answer 1's result as one label, but judges often rate each answer on its own
line and name the answers as they like: ``回答一：胜 / 回答二：负``, ``First answer: Win``,
``Response A``, ``[[B]]``. A parser that knows only the rubric's spelling (``回答1``) reads such a
reply by its last line -- answer 2's -- and so backwards (issue 36: 7 of 12 common forms were). Here
an answer is named by a word for an answer with its number (``回答二``, ``答案B``, ``Answer 2``,
``Model A``), an ordinal before the word (``第二个回答``, ``the second response``), ``[[B]]``, or the
rubric's own names; its seat is 0 (answer 1), 1 (answer 2) or None (``回答3``: neither).

Whose a label is (:meth:`Line.whose`) is read from the structure of its sentence alone, and only where
it leaves no doubt; anything else is unreadable -- counted, never read backwards (issue 36: ``回答1相对
回答2：负``, ``Answer1 loses to Answer2: Lose``, ``Win: Answer2`` and ``后者：胜`` were). A sentence may
name one answer, or two joined by a known comparison whose label is the first one's (``回答1相对回答2``,
``Answer1 relative to Answer2``) or the second's (``与回答2相比，回答1``); any other words between two
names (loses to, 输给, 与, a comma) leave the label's owner in doubt. A label an answer's name follows
in its sentence (``胜：回答2``, ``Win for Answer 2``) may be that answer's. An answer named by where it
stands (后者, the latter, 下面的回答) is named, but is neither answer for sure. Every pattern is a
bounded alternation, and each piece of a line is matched once per label it precedes: linear in the
line.
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass
from typing import Literal

_ZH_NOUN = "回答|答案|答复|回复|应答|助手|模型"
_EN_NOUN = "answer|response|reply|assistant|model|output|candidate"
#: a Chinese numeral that names an answer (回答一), not one that starts a word (回答一致, 回答一下)
_ZH_NUMERAL = "[一二三四甲乙丙丁](?![致下样般些定切起直点者次])"
_LETTER = "(?-i:[A-D])(?![A-Za-z0-9])"  # capital A-D: "answer a patient" names no answer
_CJK = "\u3400-\u9fff\uf900-\ufaff"
SEATS = {"1": 0, "2": 1, "一": 0, "二": 1, "甲": 0, "乙": 1, "a": 0, "b": 1, "one": 0, "two": 1}
SEATS |= {"first": 0, "second": 1, "1st": 0, "2nd": 1}

#: what may stand between an answer's name and the label given to it (``回答1：胜``, ``Answer 2 is
#: Lose``, ``回答2的结果是“负”``); a comma may not (``回答2更全面，负`` gives no label to answer 2)
ATTACH = r"(?:[\s:：=是为的结果判定评价得\"“”'「」*\-—()（）\[\]【】>→]|is|gets|result|verdict|rating){0,8}"

_QUOTE = r"[\s\"“”'‘’「」『』*]*"
_THE = rf"(?:(?<![A-Za-z])the\s+{_QUOTE})?"  # before a name: "than the second answer"
#: a comparison "X <this> Y": X's result relative to Y (``回答1相对回答2``, ``Answer1 vs Answer2``)
_COMPARISON = (
    r"(?:相对于|相对|相较于|相较|相比于|相比|对比|比起|比|较之|较|[优劣好强胜差高低逊]于|不如|胜过|超过"
    r"|(?<![A-Za-z])(?:vs\.?|versus|against|over|relative\s+to|(?:(?:when|as)\s+)?compared\s+(?:to|with)"
    r"|in\s+comparison\s+(?:to|with)|with\s+respect\s+to|w\.r\.t\.?"
    r"|(?:is\s+)?(?:(?:much|far|slightly|somewhat)\s+)?(?:better|worse|[a-z]+er|(?:more|less)\s+[a-z]+)\s+than))"
)
#: all that may stand between the two names of a comparison (``在安全性上`` says on what)
_RELATION = re.compile(
    rf"{_QUOTE}(?:在[^，,。；;]{{1,10}}上{_QUOTE})?{_COMPARISON}{_QUOTE}{_THE}", re.IGNORECASE
)
#: the words before a name that make it the answer compared against (``相对于回答2``, ``than Answer 2``)
_COMPARED = re.compile(rf"{_COMPARISON}{_QUOTE}{_THE}$", re.IGNORECASE)
#: a comparison that opens a sentence, its label the answer named after (``与回答2相比，回答1：负``);
#: ``与`` (with) opens one only with the ``相比`` that closes it
_OPENS = re.compile(
    r"(?:(?P<open>相对于|相较于|相比于|相比|对比|比起|(?<![A-Za-z])(?:relative\s+to|compared\s+(?:to|with)"
    rf"|in\s+comparison\s+(?:to|with)|against|versus|vs\.?))|与|和|跟|同){_QUOTE}{_THE}$",
    re.IGNORECASE,
)
_CLOSES = re.compile(rf"{_QUOTE}(?P<word>相比较?|比较|相比之下|比起来)?{_QUOTE}[,，]?{_QUOTE}{_THE}")
#: two names joined as one subject (``回答1和回答2：平``): a label given to both
_BOTH = re.compile(rf"{_QUOTE}(?:与|和|及|以及|跟|同|&|/|[,，、]|and|or){_QUOTE}{_THE}", re.IGNORECASE)
#: what may come right before the name a label rates: a sentence's start, punctuation, an article or
#: a word that names no relation (``对于回答2：胜``, ``Result for Answer2: Win``); a word that may
#: (``loses to Answer 2: Lose``, ``输给回答2：负``, ``不是回答2：胜``) leaves in doubt whose the label is
_LEAD_IN = re.compile(
    r"(?:^|[:：,，、(（\[【{|>/=\-—]|(?<![A-Za-z])(?:the|for|of|on|regarding|about|is|so|then|thus|hence)"
    r"|(?<![不非])(?:对于|针对|关于|至于|其中|是|为|判断|认为|结论|结果|所以|因此|因而|故|最终|最后|综上))$",
    re.IGNORECASE,
)
#: where a sentence or a clause ends (a period before a space, not after an abbreviation such as
#: ``vs.``, ``No.``, ``w.r.t.``; a comma before but/so/但/所以): what follows may have its own subject
_BREAK = re.compile(
    r"[。！!？?；;]|(?<!\bvs)(?<!\bcf)(?<!\bno)(?<!\bviz)(?<!\b[A-Za-z])\.(?=\s|$)"
    r"|[,，、]\s*(?:(?:but|however|so|therefore|thus|hence|whereas|while)(?![A-Za-z])"
    r"|但是?|而|所以|因此|因而|不过|然而)",
    re.IGNORECASE,
)
#: what may stand between a label and an answer named after it in its sentence for the label to be
#: that answer's (``胜：回答2``, ``Win (Answer 2)``, ``Win for Answer 2``, ``胜，回答2更好``)
_GIVEN = re.compile(
    r"(?:[\s:：=是为的\"“”'「」*\-—()（）\[\]【】>→,，、]|for|to|goes|belongs|of|is|给|归|属于){0,8}",
    re.IGNORECASE,
)
#: a name alone in the sentence after a label, only punctuation between (``Win! Answer 2``)
_PUNCTUATION = r"[\s:：=\-—()（）\[\]【】>→,，、。！!？?；;.\"“”'「」*]{0,8}"
#: an answer named by where it stands or was mentioned (后者, 下面的回答, the latter, the other one):
#: which one depends on what came before, so it is an answer named, but neither answer for sure
_POSITION = (
    rf"前者|后者|(?:[前后上下]一个|另一个|[前后上下]面的|其[他余]的?)\s*(?:{_ZH_NOUN})?"
    rf"|(?<![A-Za-z])(?:(?:former|latter)(?:\s+(?:one|{_EN_NOUN}))?|(?:other|previous|next|last|this|that)\s+(?:one|{_EN_NOUN}))"
    r"(?![A-Za-z])"
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
    return re.escape(head) + (rf"\s*{number}(?!\d)(?:\s*号)?" if number else "")


@functools.lru_cache(maxsize=16)
def _pattern(names: tuple[str, ...]) -> re.Pattern:
    rubric = [f"(?P<rubric{i}>{_name(n)})" for i, n in enumerate(names)]
    forms = [
        *rubric,
        rf"(?<![A-Za-z])(?:{_EN_NOUN})\s*(?:#|no\.)?\s*[(（]?\s*"
        rf"(?P<en>\d+|{_LETTER}|(?:one|two|three)(?![A-Za-z]))",
        rf"(?<![A-Za-z])(?P<ord>first|second|third|1st|2nd|3rd)\s+(?:{_EN_NOUN}|one)(?![A-Za-z])",
        rf"第\s*(?P<zhord>[一二三1-3])\s*(?:[个条份位种]\s*(?:{_ZH_NOUN})|[个条份位种](?![{_CJK}])|{_ZH_NOUN})",
        rf"(?:{_ZH_NOUN})\s*[#(（]?\s*(?P<zh>\d+|{_LETTER}|{_ZH_NUMERAL})(?:\s*号)?",
        rf"(?<!\d)(?P<hao>\d+|[一二三四])\s*号(?:\s*(?:{_ZH_NOUN})|(?![{_CJK}]))",
        r"\[\[(?P<br>(?-i:[A-D])|\d)\]\]",
        f"(?P<pos>{_POSITION})",
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


def _unknown_name_before(line: str, label_start: int) -> bool:
    """Whether a label no known name holds follows something that names an answer all the same."""
    return bool(_UNKNOWN_NAME.search(line[max(0, label_start - _LOOK_BACK) : label_start]))


#: a label given to both answers (``回答1和回答2：平``), one that is no verdict at all (a label word in
#: a sentence about an answer named after it: ``A Tie would understate Answer1``), a free-standing one
#: (answer 1's, as the rubric's format asks)
BOTH, NONE, FREE = "both", "none", "free"
Whose = int | Literal["both", "none", "free"] | None  # an int: the seat rated; None: unreadable


class Line:
    """One line of a reply, its answers' names and where its sentences end: whose each label is."""

    def __init__(self, text: str, names: tuple[str, ...]) -> None:
        self.text = text
        self.named = refs(text, names)
        self.breaks = [m.end() for m in _BREAK.finditer(text)]

    def _broken(self, start: int, end: int) -> bool:
        """Whether a sentence ends between ``start`` and ``end``."""
        i = bisect.bisect_right(self.breaks, start)
        return i < len(self.breaks) and self.breaks[i] <= end

    def _sentence_start(self, position: int, since: int) -> int:
        """Where the sentence holding ``position`` starts (not before ``since``)."""
        i = bisect.bisect_right(self.breaks, position)
        return max(since, self.breaks[i - 1] if i else 0)

    def whose(self, since: int, start: int, end: int) -> Whose:
        """Whose the label at ``start:end`` is, read from the line after ``since`` (the previous
        label's end): the names in the last sentence before it that names any. One name the label
        follows with only :data:`ATTACH` between rates that answer; one named before a free label
        must be answer 1 (``回答2更好，胜``: whose win?); two names must be a known comparison
        (:meth:`_subject`); three or more are unreadable."""
        low = bisect.bisect_left(self.named, since, key=lambda r: r.start)
        high = bisect.bisect_right(self.named, start, key=lambda r: r.end)
        if high <= low:
            return self._alone(start, end)
        sentence = self._sentence_start(self.named[high - 1].start, since)
        group = self.named[max(low, bisect.bisect_left(self.named, sentence, key=lambda r: r.start)) : high]
        if len(group) > 2:
            return None
        if len(group) == 2:
            subject = self._subject(sentence, *group)
            if subject in (None, BOTH):
                return subject
        elif group[0].compared:  # 相对于回答2：胜 -- answer 1 unnamed, as the rubric's format says;
            # 相对于回答1：胜 rates an unnamed answer 2
            return self._alone(start, end) if group[0].seat == 1 else None
        elif self._lead_in(sentence, group[0]):
            subject = group[0]
        else:
            return None
        gap = self.text[group[-1].end : start]
        if subject.seat is not None and len(gap) <= _LOOK_BACK and re.fullmatch(ATTACH, gap, re.IGNORECASE):
            return subject.seat
        if subject.seat != 0:
            return None
        return self._alone(start, end)

    def _lead_in(self, sentence: int, ref: Ref) -> bool:
        """Whether nothing before a name in its sentence may relate it to something else."""
        head = self.text[max(sentence, ref.start - _LOOK_BACK) : ref.start]
        return bool(_LEAD_IN.search(re.sub(f"{_QUOTE}$", "", head)))

    def _subject(self, sentence: int, first: Ref, second: Ref) -> Ref | Literal["both"] | None:
        """The answer a label after two names rates: the first in ``X <comparison> Y``, the second in
        ``<comparison> Y, X``, both in ``X and Y``; None (unreadable) for any other words between."""
        between = self.text[first.end : second.start]
        head = self.text[max(sentence, first.start - _LOOK_BACK) : first.start]
        if len(between) > _LOOK_BACK:
            return None
        if opens := _OPENS.search(head):
            closes = _CLOSES.fullmatch(between)
            return second if closes and (opens["open"] or closes["word"]) else None
        if _RELATION.fullmatch(between):
            return first if self._lead_in(sentence, first) else None
        if _BOTH.fullmatch(between) and {first.seat, second.seat} == {0, 1}:
            return BOTH
        return None

    def _alone(self, start: int, end: int) -> Whose:
        """A label no name before it rates: answer 1's, as the rubric's format asks -- unless an
        answer's name follows it in its sentence (``胜：回答2``: that answer's? unreadable; a label
        word in a sentence about the answer, ``A Tie would understate Answer1``: no verdict) or alone
        in the next (``Win! Answer 2``), or it follows a name not known here (``候选2：胜``)."""
        after = bisect.bisect_left(self.named, end, key=lambda r: r.start)
        if after < len(self.named):
            name = self.named[after]
            gap, rest = self.text[end : name.start], self.text[name.end : name.end + _LOOK_BACK + 1]
            if not self._broken(end, name.start):
                return None if len(gap) <= _LOOK_BACK and _GIVEN.fullmatch(gap) else NONE
            if re.fullmatch(_PUNCTUATION, gap) and re.match(rf"{_PUNCTUATION}(?:$|[。！!？?；;.])", rest):
                return None
        return None if _unknown_name_before(self.text, start) else FREE
