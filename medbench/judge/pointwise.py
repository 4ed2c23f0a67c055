"""Pointwise judging: each answer rated on its own per dimension (e.g. 1-3); scores compared item by item."""

from __future__ import annotations

from medbench.core.errors import MedbenchError
from medbench.core.templates import render_template
from medbench.judge.agreement import agreement
from medbench.judge.diagnostics import self_preference
from medbench.judge.items import answer_text, paired_items
from medbench.judge.jury import combine_scores
from medbench.judge.pairwise import rates_interval
from medbench.judge.rubric import OUTCOMES, question_text
from medbench.judge.session import JudgeConfig, ask, finish, summary_head, tables
from medbench.run.rundir import RunFolder


def run_pointwise(config: JudgeConfig, rubric: dict) -> tuple[RunFolder, dict]:
    """Each answer rated on its own per dimension (e.g. 1-3); scores compared item by item. A jury's
    score of an answer combines its judges' (:mod:`medbench.judge.jury`); their agreement is ordinal."""
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
    if config.human:
        raise MedbenchError("--human compares pairwise verdicts; this rubric is pointwise (scores): not yet")
    judges, folder, results = ask(config, rubric, task, plan, "side")
    per_judge = {name: judge_scores(plan, answered) for name, answered in results.items()}
    entries = jury_scores(config, per_judge)
    summary = summary_head(config, task, "pointwise", failed)
    dims = [d["name"] for d in rubric["dimensions"]]
    tables(summary, config, entries, per_judge, score_stats, dims)
    if len(judges) > 1:
        summary["agreement"] = {
            d: agreement(
                {
                    n: {
                        (i, side): e[side]
                        for (i, dd), e in scored.items()
                        if dd == d
                        for side in "ab"
                        if e.get(side) is not None
                    }
                    for n, scored in per_judge.items()
                },
                levels(per_judge),
                "ordinal",
                config.seed,
            )
            for d in dims
        }
    summary["diagnostics"] = {
        j.spec.name: {
            "dimensions": {},
            "self_preference": self_preference(j.spec.model, j.spec.family, config.runs),
        }
        for j in judges
    }
    return finish(folder, summary, judges, config, entries)


def judge_scores(plan: list[tuple], results: list[dict]) -> dict[tuple[str, str], dict]:
    """One judge's score of each side per (item, dimension), and its request errors."""
    scores: dict[tuple[str, str], dict] = {}
    for (item, dim, side, _), result in zip(plan, results, strict=True):
        entry = scores.setdefault((item, dim), {})
        entry[side] = None if result["verdict"] is None else int(result["verdict"])
        if result["error"]:
            entry.setdefault("errors", []).append(result["error"])
    return scores


def levels(per_judge: dict) -> list[int]:
    """Every score any judge gave (the ordinal scale as used)."""
    return sorted(
        {e[s] for scored in per_judge.values() for e in scored.values() for s in "ab" if e.get(s) is not None}
    )


def jury_scores(config: JudgeConfig, per_judge: dict) -> list[dict]:
    """A jury of one is its judge's scores; a larger jury's score of a side combines the judges'
    valid scores, and a side with fewer than ``--min-valid-judges`` (or a split unanimous jury) has
    none (counted)."""
    if len(per_judge) == 1:
        return [{"id": i, "dimension": d, **e} for (i, d), e in next(iter(per_judge.values())).items()]
    out = []
    for item, dim in next(iter(per_judge.values())):
        entry = {"id": item, "dimension": dim, "judges": {n: s[(item, dim)] for n, s in per_judge.items()}}
        for side in "ab":
            valid = [j[side] for j in entry["judges"].values() if j.get(side) is not None]
            enough = len(valid) >= config.min_valid_judges
            entry[side] = combine_scores(valid, config.aggregate) if enough and valid else None
            if not enough:
                entry["too_few_judges"] = True
            elif entry[side] is None:
                entry["jury_split"] = True
        out.append(entry)
    return out


def score_stats(entries: list[dict], seed: int) -> dict:
    """Mean scores, the item-by-item outcome rates and their intervals, and every count."""
    both = [e for e in entries if e.get("a") is not None and e.get("b") is not None]
    outcomes = ["win" if e["a"] > e["b"] else "loss" if e["a"] < e["b"] else "tie" for e in both]
    means = {}
    for side in ("a", "b"):
        values = [e[side] for e in entries if e.get(side) is not None]
        means[side] = sum(values) / len(values) if values else None
    own = [e for e in entries if "judges" not in e]  # a judge's own records (or a jury of one)
    return {
        "items": len(entries),
        "judged": len(both),
        "mean_score": means,
        "parse_failures": sum(
            (e.get("a") is None) + (e.get("b") is None) - len(e.get("errors", [])) for e in own
        ),
        "request_errors": sum(len(e.get("errors", [])) for e in own),
        "too_few_judges": sum(1 for e in entries if e.get("too_few_judges")),
        "jury_split": sum(1 for e in entries if e.get("jury_split")),
        "rates": {o: outcomes.count(o) / len(outcomes) if outcomes else None for o in OUTCOMES},
        "ci95": rates_interval(outcomes) if outcomes else None,
        "position_consistency": None,
    }
