"""Pairwise judging: both answers in one prompt, in both orders (or one random order); a win or loss
counts only when the orders agree, and position consistency is reported. Nothing to judge is not
judged: an item whose two answers are both empty is counted and never sent, and an empty answer loses
to a non-empty one without a request (counted apart)."""

from __future__ import annotations

import random

from medbench import intervals
from medbench.judge.items import answer_text, paired_items
from medbench.judge.rubric import FLIP, OUTCOMES, combine, question_text
from medbench.judge.session import JudgeConfig, ask, finish, summary_head
from medbench.rundir import RunFolder
from medbench.templates import render_template

BOTH_EMPTY = "both answers empty"  # counted, never sent, no verdict
ONE_EMPTY = "one answer empty"  # the empty one loses, without a request


def run_pairwise(config: JudgeConfig, rubric: dict) -> tuple[RunFolder, dict]:
    task, pairs, failed = paired_items(*config.runs, config.task)
    rng = random.Random(config.seed)
    plan = []  # (item id, dimension, A-first?, prompt)
    decided: dict[str, tuple[str, str | None]] = {}  # nothing to judge: item -> (why, outcome for A)
    for a, b in pairs:
        empty_a, empty_b = not answer_text(a).strip(), not answer_text(b).strip()
        if empty_a or empty_b:  # never sent: both empty is no verdict; one empty answer loses
            decided[str(a["id"])] = (
                (BOTH_EMPTY, None) if empty_a and empty_b else (ONE_EMPTY, "loss" if empty_a else "win")
            )
            continue
        question = question_text(a, config.lang)
        orders = [True, False] if config.order == "both" else [rng.random() < 0.5]
        for dim in rubric["dimensions"]:
            for a_first in orders:
                first, second = (a, b) if a_first else (b, a)
                prompt = render_template(
                    dim["prompt"][config.lang],
                    {
                        "question": question,
                        "answer1": answer_text(first),
                        "answer2": answer_text(second),
                        "reference": a.get("reference", ""),
                    },
                )
                plan.append((str(a["id"]), dim["name"], a_first, prompt))
    judge, folder, results = ask(config, rubric, task, plan, "a_first")
    verdicts: dict[tuple[str, str], dict] = {
        (item, dim["name"]): {"id": item, "dimension": dim["name"], "decided": why, "final": outcome}
        for item, (why, outcome) in decided.items()
        for dim in rubric["dimensions"]
    }
    for (item, dim, a_first, _), result in zip(plan, results, strict=True):
        v = result["verdict"]
        entry = verdicts.setdefault((item, dim), {"id": item, "dimension": dim})
        entry["a_first" if a_first else "b_first"] = v if a_first or v is None else FLIP[v]
        if result["error"]:
            entry.setdefault("errors", []).append(result["error"])
    summary = summary_head(config, task, config.order, failed)
    for dim in (d["name"] for d in rubric["dimensions"]):
        entries = [e for (item, d), e in verdicts.items() if d == dim]
        finals, consistent, both = [], 0, 0
        for e in entries:
            if "decided" in e:
                pass  # an empty answer decided it (or there was nothing to decide), without a request
            elif config.order == "both":
                e["final"] = combine(e.get("a_first"), e.get("b_first"))
                if e.get("a_first") and e.get("b_first"):
                    both += 1
                    consistent += e["a_first"] == e["b_first"]
            else:
                e["final"] = e.get("a_first") or e.get("b_first")
            if e["final"]:
                finals.append(e["final"])
        rates = {o: finals.count(o) / len(finals) if finals else None for o in OUTCOMES}
        summary["dimensions"][dim] = {
            "items": len(entries),
            "judged": len(finals),
            "both_empty": sum(1 for e in entries if e.get("decided") == BOTH_EMPTY),
            "empty_answer_lost": sum(1 for e in entries if e.get("decided") == ONE_EMPTY),
            "parse_failures": sum(
                1 for e in entries if e["final"] is None and not e.get("errors") and "decided" not in e
            ),
            "request_errors": sum(1 for e in entries if e.get("errors")),
            "rates": rates,
            "ci95": rates_interval(finals, config.seed) if finals else None,
            "position_consistency": consistent / both if both else None,
        }
    return finish(folder, summary, judge, config, list(verdicts.values()))


def rates_interval(outcomes: list[str], seed: int) -> dict[str, list[float]]:
    """95% intervals of the win/tie/loss rates, resampling items."""
    # one seed for every outcome: the three rates come from the same resamples
    return {
        o: list(intervals.bootstrap(outcomes, lambda sample, o=o: sample.count(o) / len(sample), seed))
        for o in OUTCOMES
    }
