"""What a judge summary adds beyond the rates: each judge's bias diagnostics, the jury's agreement, the
items its judges disagree on (with both answers and every judge's reply), and agreement with human
raters. Every part is computed from the verdicts this run recorded; nothing is asked again."""

from __future__ import annotations

from medbench.judge.agreement import agreement
from medbench.judge.diagnostics import seat_bias, self_preference
from medbench.judge.human import human_agreement
from medbench.judge.items import answer_text
from medbench.judge.rubric import OUTCOMES, question_text

#: the disagreement browser's length: items and characters per answer or reply
SHOWN_ITEMS, SHOWN_CHARS = 50, 2000


def _judge_stats(summary: dict, name: str) -> dict:
    return summary["judges"][name] if "judges" in summary else summary


def _favours(finals: list[str], side: str) -> float | None:
    """The share of a judge's verdicts that favour one side (``a``: A wins; ``b``: A loses)."""
    won = "win" if side == "a" else "loss"
    return sum(f == won for f in finals) / len(finals) if finals else None


def diagnostics(summary, config, judges, pairs, plan, results, entries) -> dict:
    """Per judge: per dimension its seat and length biases, and its self-preference flag (with its
    verdicts' rate for that model beside the other judges')."""
    gaps = {str(a["id"]): len(answer_text(a)) - len(answer_text(b)) for a, b in pairs}
    out = {}
    for judge in judges:
        name = judge.spec.name
        dims = {}
        for dim in summary["dimensions"]:
            seated = [
                (item, r["verdict"], gaps[item] if a_first else -gaps[item])
                for (item, d, a_first, _), r in zip(plan, results[name], strict=True)
                if d == dim and not r["error"]
            ]
            consistency = _judge_stats(summary, name)["dimensions"][dim]["position_consistency"]
            dims[dim] = seat_bias(seated, consistency, config.seed)
        flag = self_preference(judge.spec.model, judge.spec.family, config.runs)
        if flag:
            mine = [_final(e, name) for e in entries if _final(e, name)]
            others = [_final(e, o.spec.name) for o in judges if o is not judge for e in entries]
            flag["its_rate"] = _favours(mine, flag["model"])
            flag["others_rate"] = _favours([f for f in others if f], flag["model"])
        out[name] = {"dimensions": dims, "self_preference": flag}
    return out


def _final(entry: dict, name: str) -> str | None:
    """One judge's final verdict of a verdict record (a jury of one's is the record's own)."""
    if "judges" in entry:
        return entry["judges"][name]["final"]
    return None if "decided" in entry else entry.get("final")


def finals_by_judge(names: list[str], entries: list[dict]) -> dict[str, dict[str, dict[str, str]]]:
    """judge -> dimension -> item -> final verdict, for the judges sent prompts (and ``jury``)."""
    out: dict = {n: {} for n in names}
    if len(names) > 1:
        out["jury"] = {}
    for e in entries:
        if "decided" in e:
            continue
        for n in names:
            if _final(e, n):
                out[n].setdefault(e["dimension"], {})[e["id"]] = _final(e, n)
        if len(names) > 1 and e.get("final"):
            out["jury"].setdefault(e["dimension"], {})[e["id"]] = e["final"]
    return out


def disagreements(names, pairs, plan, results, entries, lang: str) -> tuple[int, list[dict]]:
    """The items whose judges' valid verdicts differ: how many, and the first :data:`SHOWN_ITEMS`
    with the question, both answers and every judge's replies."""
    split = [e for e in entries if "judges" in e and len({_final(e, n) for n in names} - {None}) > 1]
    records = {str(a["id"]): (a, b) for a, b in pairs}
    replies: dict[tuple, dict[str, list[str]]] = {}
    for name in names:
        for (item, dim, a_first, _), r in zip(plan, results[name], strict=True):
            seat = "A first" if a_first else "B first"
            text = r["replies"][-1] if r["replies"] else f"(no reply: {r['error']})"
            replies.setdefault((item, dim), {}).setdefault(name, []).append(f"[{seat}] {text[:SHOWN_CHARS]}")
    shown = []
    for e in split[:SHOWN_ITEMS]:
        a, b = records[e["id"]]
        shown.append(
            {
                "id": e["id"],
                "dimension": e["dimension"],
                "question": question_text(a, lang)[:SHOWN_CHARS],
                "answer_a": answer_text(a)[:SHOWN_CHARS],
                "answer_b": answer_text(b)[:SHOWN_CHARS],
                "final": e.get("final"),
                "judges": {
                    n: {
                        "final": _final(e, n),
                        "replies": replies.get((e["id"], e["dimension"]), {}).get(n, []),
                    }
                    for n in names
                },
            }
        )
    return len(split), shown


def jury_sections(summary, config, judges, pairs, plan, results, entries, ratings) -> None:
    """Diagnostics, agreement, disagreements and human agreement, added to a pairwise summary."""
    names = [j.spec.name for j in judges]
    summary["diagnostics"] = diagnostics(summary, config, judges, pairs, plan, results, entries)
    finals = finals_by_judge(names, entries)
    if len(names) > 1:
        summary["agreement"] = {
            dim: agreement({n: finals[n].get(dim, {}) for n in names}, OUTCOMES, "nominal", config.seed)
            for dim in summary["dimensions"]
        }
        summary["disagreements_total"], summary["disagreements"] = disagreements(
            names, pairs, plan, results, entries, config.lang
        )
    if ratings is not None:
        summary["human"] = human_agreement(ratings, finals, config.seed)
