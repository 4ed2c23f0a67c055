"""How much of each judge's work could be read, said where a reader sees it.

A judge that does not answer in the rubric's format gives no verdict, only a parse failure; counted
in a table that is easy to miss, a jury of two whose second judge never gave a readable verdict
read as "a jury of 2 judges, unanimous verdict" resting on one, and a single judge with nothing
readable exited 0 (issue 36). Like a run whose replies were mostly unparseable
(:mod:`medbench.run.checks`), a judge whose verdicts on a dimension were over 20 % unreadable gets one
warning line naming each such dimension (logged, and first in results.md and ``summary.json``'s
``warnings``); one that gave none on a dimension makes the judge command incomplete (exit 3).
"""

from __future__ import annotations

import logging

from medbench.run.checks import WARN_RATE

log = logging.getLogger("medbench")


def _judges(summary: dict) -> dict[str | None, dict]:
    """Each judge's own statistics by its name (a single judge's: under None)."""
    return summary.get("judges", {None: summary})


def who(name: str | None) -> str:
    """A judge as the lines name it."""
    return "the judge" if name is None else f"judge {name}"


def _asked(stats: dict, pointwise: bool) -> int:
    """What a judge was asked to give a verdict on and answered: answers (pointwise) or items."""
    if pointwise:
        return 2 * stats["items"] - stats["request_errors"]
    decided = stats.get("both_empty", 0) + stats.get("empty_answer_lost", 0)
    return stats["items"] - decided - stats["request_errors"]


def unreadable(summary: dict) -> list[tuple[str | None, str, int, int]]:
    """(judge's name, dimension, unreadable, asked) for every judge and dimension it was asked
    anything on."""
    pointwise = summary["order"] == "pointwise"
    return [
        (name, dim, stats["parse_failures"], _asked(stats, pointwise))
        for name, judged in _judges(summary).items()
        for dim, stats in judged["dimensions"].items()
        if _asked(stats, pointwise) > 0
    ]


def silent(summary: dict) -> list[tuple[str, str, int]]:
    """(judge as the lines name it, dimension, asked) where a judge gave no readable verdict at all."""
    return [(who(name), dim, asked) for name, dim, failed, asked in unreadable(summary) if failed == asked]


def mute_jurors(summary: dict) -> list[str]:
    """The names of a jury's judges that gave no readable verdict on any dimension they were asked:
    the jury's verdicts rest on the others."""
    if "judges" not in summary:
        return []
    mute: dict[str, set[bool]] = {}
    for name, _, failed, asked in unreadable(summary):
        mute.setdefault(name, set()).add(failed == asked)
    return [name for name, each in mute.items() if each == {True}]


def warn(summary: dict) -> None:
    """One line per judge whose verdicts on some dimension were over
    :data:`~medbench.run.checks.WARN_RATE` unreadable, logged and kept in the summary's ``warnings``
    (absent when there is none)."""
    unit = "answers" if summary["order"] == "pointwise" else "items"
    over: dict[str, list[str]] = {}
    for name, dim, failed, asked in unreadable(summary):
        if failed / asked > WARN_RATE:
            over.setdefault(who(name), []).append(
                f"{100 * failed / asked:.0f}% on {dim} ({failed} of {asked} {unit} asked)"
            )
    jury = "the jury's verdicts there rest on the other judges; " if "judges" in summary else ""
    lines = [
        f"{judge}: verdicts unreadable: {', '.join(parts)}; {jury}its replies are in requests.jsonl: a judge "
        "that does not answer in the rubric's format needs another model (or --lang)"
        for judge, parts in over.items()
    ]
    for line in lines:
        log.warning(line)
    if lines:
        summary["warnings"] = lines
