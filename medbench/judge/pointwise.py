"""Pointwise judging: each answer rated on its own per dimension (e.g. 1-3); scores compared item by item."""

from __future__ import annotations

from medbench.judge.items import answer_text, paired_items
from medbench.judge.pairwise import rates_interval
from medbench.judge.rubric import OUTCOMES, question_text
from medbench.judge.session import JudgeConfig, ask, finish, summary_head
from medbench.rundir import RunFolder
from medbench.templates import render_template


def run_pointwise(config: JudgeConfig, rubric: dict) -> tuple[RunFolder, dict]:
    """Each answer rated on its own per dimension (e.g. 1-3); scores compared item by item."""
    task, pairs, failed = paired_items(*config.runs, config.task)
    plan = []  # (item id, dimension, side, prompt)
    for a, b in pairs:
        question = question_text(a, config.lang)
        for dim in rubric["dimensions"]:
            for side, record in (("a", a), ("b", b)):
                prompt = render_template(
                    dim["prompt"][config.lang],
                    {
                        "question": question,
                        "answer": answer_text(record),
                        "reference": a.get("reference", ""),
                    },
                )
                plan.append((str(a["id"]), dim["name"], side, prompt))
    judge, folder, results = ask(config, rubric, task, plan, "side")
    scores: dict[tuple[str, str], dict] = {}
    for (item, dim, side, _), result in zip(plan, results, strict=True):
        entry = scores.setdefault((item, dim), {"id": item, "dimension": dim})
        entry[side] = None if result["verdict"] is None else int(result["verdict"])
        if result["error"]:
            entry.setdefault("errors", []).append(result["error"])
    summary = summary_head(config, task, "pointwise", failed)
    for dim in (d["name"] for d in rubric["dimensions"]):
        entries = [e for (item, d), e in scores.items() if d == dim]
        both = [e for e in entries if e.get("a") is not None and e.get("b") is not None]
        outcomes = ["win" if e["a"] > e["b"] else "loss" if e["a"] < e["b"] else "tie" for e in both]
        means = {}
        for side in ("a", "b"):
            values = [e[side] for e in entries if e.get(side) is not None]
            means[side] = sum(values) / len(values) if values else None
        summary["dimensions"][dim] = {
            "items": len(entries),
            "judged": len(both),
            "mean_score": means,
            "parse_failures": sum(
                (e.get("a") is None) + (e.get("b") is None) - len(e.get("errors", [])) for e in entries
            ),
            "request_errors": sum(len(e.get("errors", [])) for e in entries),
            "rates": {o: outcomes.count(o) / len(outcomes) if outcomes else None for o in OUTCOMES},
            "ci95": rates_interval(outcomes, config.seed) if outcomes else None,
            "position_consistency": None,
        }
    return finish(folder, summary, judge, config, list(scores.values()))
