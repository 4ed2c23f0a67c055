"""Pairwise judging: both answers in one prompt, in both orders (or one random order); a win or loss
counts only when the orders agree, and position consistency is reported. Nothing to judge is not
judged: an item whose two answers are both empty is counted and never sent, and an empty answer loses
to a non-empty one without a request (counted apart). A jury's judges are each read this way, then
combined (:mod:`medbench.judge.jury`); their agreement, biases and agreement with human raters go into
the same summary (:mod:`medbench.judge.present`)."""

from __future__ import annotations

import random

from medbench.analysis import intervals
from medbench.core.templates import render_template
from medbench.judge.human import read_ratings
from medbench.judge.items import answer_text, paired_items
from medbench.judge.jury import combine_verdicts
from medbench.judge.rubric import FLIP, OUTCOMES, combine, question_text
from medbench.judge.sections import jury_sections
from medbench.judge.session import JudgeConfig, ask, finish, summary_head, tables
from medbench.run.rundir import RunFolder

BOTH_EMPTY = "both answers empty"  # counted, never sent, no verdict
ONE_EMPTY = "one answer empty"  # the empty one loses, without a request


def plan_pairs(config: JudgeConfig, rubric: dict, pairs: list[tuple[dict, dict]]):
    """The prompts to send, (item id, dimension, A-first?, prompt), and the items nothing was sent
    for: item -> (why, outcome for A)."""
    rng = random.Random(config.seed)
    plan = []
    decided: dict[str, tuple[str, str | None]] = {}
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
    return plan, decided


def judge_entries(plan: list[tuple], results: list[dict], order: str) -> dict[tuple[str, str], dict]:
    """One judge's verdict per (item, dimension), from A's side: each order's, and the final one."""
    entries: dict[tuple[str, str], dict] = {}
    for (item, dim, a_first, _), result in zip(plan, results, strict=True):
        v = result["verdict"]
        entry = entries.setdefault((item, dim), {})
        entry["a_first" if a_first else "b_first"] = v if a_first or v is None else FLIP[v]
        if result["error"]:
            entry.setdefault("errors", []).append(result["error"])
    for e in entries.values():
        if order == "both":
            e["final"] = combine(e.get("a_first"), e.get("b_first"))
        else:
            e["final"] = e.get("a_first") or e.get("b_first")
    return entries


def jury_entries(config: JudgeConfig, rubric: dict, decided: dict, per_judge: dict) -> list[dict]:
    """The verdict records: a jury of one is its judge's; a larger jury's final verdict combines the
    valid ones, and an item with fewer than ``--min-valid-judges`` is excluded (``too_few_judges``)."""
    out = [
        {"id": item, "dimension": dim["name"], "decided": why, "final": outcome}
        for item, (why, outcome) in decided.items()
        for dim in rubric["dimensions"]
    ]
    for item, dim in next(iter(per_judge.values())):
        entry = {"id": item, "dimension": dim}
        if len(per_judge) == 1:
            entry.update(next(iter(per_judge.values()))[(item, dim)])
        else:
            entry["judges"] = {name: judged[(item, dim)] for name, judged in per_judge.items()}
            valid = [j["final"] for j in entry["judges"].values() if j["final"]]
            enough = len(valid) >= config.min_valid_judges
            entry["final"] = combine_verdicts(valid, config.aggregate) if enough and valid else None
            if not enough:
                entry["too_few_judges"] = len(valid)
        out.append(entry)
    return out


def dimension_stats(entries: list[dict], seed: int) -> dict:
    """Rates, their intervals, consistency and every count of one dimension's verdict records."""
    finals = [e["final"] for e in entries if e.get("final")]
    both = [e for e in entries if e.get("a_first") and e.get("b_first")]
    consistent = sum(e["a_first"] == e["b_first"] for e in both)
    rates = {o: finals.count(o) / len(finals) if finals else None for o in OUTCOMES}
    unjudged = [e for e in entries if not e.get("final") and "decided" not in e]
    return {
        "items": len(entries),
        "judged": len(finals),
        "both_empty": sum(1 for e in entries if e.get("decided") == BOTH_EMPTY),
        "empty_answer_lost": sum(1 for e in entries if e.get("decided") == ONE_EMPTY),
        "parse_failures": sum(1 for e in unjudged if not e.get("errors") and "too_few_judges" not in e),
        "request_errors": sum(1 for e in entries if e.get("errors")),
        "too_few_judges": sum(1 for e in entries if "too_few_judges" in e),
        "rates": rates,
        "ci95": rates_interval(finals) if finals else None,
        "position_consistency": consistent / len(both) if both else None,
    }


def run_pairwise(config: JudgeConfig, rubric: dict) -> tuple[RunFolder, dict]:
    task, pairs, failed = paired_items(*config.runs, config.task)
    plan, decided = plan_pairs(config, rubric, pairs)
    dims = [d["name"] for d in rubric["dimensions"]]
    items = {str(a["id"]) for a, _ in pairs}  # the human sheet is checked before any request is made
    ratings = read_ratings(config.human, config.runs, dims, items) if config.human else None
    judges, folder, results = ask(config, rubric, task, plan, "a_first")
    per_judge = {name: judge_entries(plan, answered, config.order) for name, answered in results.items()}
    entries = jury_entries(config, rubric, decided, per_judge)
    summary = summary_head(config, task, config.order, failed)
    tables(summary, config, entries, per_judge, dimension_stats, dims)
    jury_sections(summary, config, judges, pairs, plan, results, entries, ratings)
    return finish(folder, summary, judges, config, entries)


def rates_interval(outcomes: list[str]) -> dict[str, list[float]]:
    """95% intervals of the win/tie/loss rates: each a proportion of the items judged (Wilson: never
    the zero-width [100, 100] a bootstrap gives 6 wins of 6)."""
    return {o: list(intervals.proportion(outcomes.count(o), len(outcomes)) or []) for o in OUTCOMES}
