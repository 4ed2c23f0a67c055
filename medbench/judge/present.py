"""The judge folder's Markdown table (the report shows the same summary)."""

from __future__ import annotations

from medbench.core.safe_cells import markdown_lines
from medbench.judge.readable import mute_jurors


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


PROTOCOLS = {
    "both": "both orders",
    "random": "one random order per item, half the cost",
    "pointwise": "pointwise: each answer rated on its own, scores compared item by item",
}


def markdown(summary: dict) -> str:
    warnings = [f"WARNING: {w}" for w in summary.get("warnings", [])]
    lines = [
        *warnings,
        *([""] if warnings else []),
        f"{summary['model_a']} vs {summary['model_b']} on {summary['task']} ({summary['rubric']}, "
        f"{PROTOCOLS[summary['order']]})",
        "",
        *(
            [
                f"{summary['excluded_failed']} item(s) not judged: their answer failed in a run "
                f"(ids {', '.join(summary['excluded_failed_ids'][:10])}).",
                "",
            ]
            if summary.get("excluded_failed")
            else []
        ),
    ]
    rows = []
    for dim, s in summary["dimensions"].items():
        r = s["rates"]
        ci = "" if not s["ci95"] else f"[{100 * s['ci95']['win'][0]:.1f}, {100 * s['ci95']['win'][1]:.1f}]"
        rows.append(
            [
                dim,
                f"{s['judged']}/{s['items']}",
                *(_pct(r[k]) for k in ("win", "tie", "loss")),
                ci,
                _pct(s["position_consistency"]),
                s["parse_failures"],
                s["request_errors"],
                s.get("both_empty", 0),
                s.get("empty_answer_lost", 0),
            ]
        )
    header = ["Dimension", "Judged", "Win", "Tie", "Loss", "Win 95% CI", "Position consistency"]
    header += ["Parse failures", "Errors", "Both empty (not sent)", "Empty answer lost (not sent)"]
    if "judges" in summary:
        header.append(f"Fewer than {summary['min_valid_judges']} valid verdicts (excluded)")
        for row, s in zip(rows, summary["dimensions"].values(), strict=True):
            row.append(s.get("too_few_judges", 0))
        jury, mute = len(summary["judges"]), mute_jurors(summary)
        heading = len(warnings) + bool(warnings)
        lines[heading] += f"; a jury of {jury} judges, {summary['aggregate']} verdict"
        if mute:
            lines[heading] += f", resting on {jury - len(mute)} ({', '.join(mute)} gave no readable verdict)"
    lines += markdown_lines(header, rows, "l" + "r" * (len(header) - 1))
    means = {d: s["mean_score"] for d, s in summary["dimensions"].items() if s.get("mean_score")}
    if means:
        rows = [[d, _num(m["a"]), _num(m["b"])] for d, m in means.items()]
        lines += ["", *markdown_lines(["Dimension", "Mean score A", "Mean score B"], rows, "lrr")]
    lines += jury_lines(summary)
    u = summary["usage"]
    lines += [
        "",
        f"Judge requests: {u['requests']} (cached: {u['cached']}), tokens {u['prompt_tokens']} in / "
        f"{u['completion_tokens']} out, estimated cost {u['estimated_cost']:.4f}.",
    ]
    return "\n".join(lines) + "\n"


def _ci(ci: list[float] | None, scale: float = 1.0, digits: int = 2) -> str:
    return "" if not ci else f"[{scale * ci[0]:.{digits}f}, {scale * ci[1]:.{digits}f}]"


def _stat(s: dict | None) -> str:
    return "" if not s or s.get("value") is None else f"{s['value']:.2f} {_ci(s['ci95'])} (n={s['n']})"


def jury_lines(summary: dict) -> list[str]:
    """Each judge's own table, the jury's agreement, every judge's biases, and human agreement."""
    lines = []
    for name, j in summary.get("judges", {}).items():
        u = j["usage"]
        rows = [
            [
                d,
                f"{s['judged']}/{s['items']}",
                *(_pct(s["rates"][k]) for k in ("win", "tie", "loss")),
                _pct(s["position_consistency"]),
                s["parse_failures"],
                s["request_errors"],
            ]
            for d, s in j["dimensions"].items()
        ]
        lines += [
            "",
            f"Judge {name}: {u['requests']} requests (cached: {u['cached']}), tokens "
            f"{u['prompt_tokens']} in / {u['completion_tokens']} out, cost {u['estimated_cost']:.4f}",
            "",
        ]
        header = [
            "Dimension",
            "Judged",
            "Win",
            "Tie",
            "Loss",
            "Position consistency",
            "Parse failures",
            "Errors",
        ]
        lines += markdown_lines(header, rows, "lrrrrrrr")
    rows = []
    for dim, a in summary.get("agreement", {}).items():
        rows += [[dim, f"Cohen's kappa, {pair}", _stat(s)] for pair, s in a["cohen"].items()]
        rows.append([dim, "Fleiss' kappa", _stat(a.get("fleiss"))])
        rows.append([dim, f"Krippendorff's alpha ({a['alpha']['level']})", _stat(a.get("alpha"))])
    if rows:
        lines += ["", "Agreement between the judges (95% bootstrap interval over items):", ""]
        lines += markdown_lines(["Dimension", "Statistic", "Value"], rows, "llr")
    rows = []
    for name, d in summary.get("diagnostics", {}).items():
        flag = d["self_preference"]
        for dim, b in d["dimensions"].items():
            if not b["verdicts"]:
                continue  # nothing asked of this judge on this dimension
            rows.append(
                [
                    name,
                    dim,
                    _pct(b["first_position_win_rate"]),
                    _pct(b["order_flip_rate"]),
                    _pct(b["longer_win_rate"]),
                    ""
                    if b["length_slope_per_100_chars"] is None
                    else f"{b['length_slope_per_100_chars']:.2f} {_ci(b['length_slope_ci95'])}",
                    b["ties"],
                    "" if not flag else f"FLAG: {flag['why']}",
                ]
            )
        if flag and not d["dimensions"]:
            rows.append([name, "", "", "", "", "", "", f"FLAG: {flag['why']}"])
    if rows:
        lines += ["", "Judge biases (seat as the judge saw it; rates over decisive verdicts):", ""]
        header = ["Judge", "Dimension", "First seat wins", "Orders flip", "Longer answer wins"]
        header += ["Length slope per 100 chars [95% CI]", "Ties", "Self-preference"]
        lines += markdown_lines(header, rows, "llrrrrrl")
    human = summary.get("human")
    if human:
        rows = [
            [dim, judge, h["n"], _pct(h["accuracy"]), _stat(h["kappa"])]
            for dim, d in human["dimensions"].items()
            for judge, h in d["judges"].items()
        ]
        lines += [
            "",
            f"Agreement with human raters ({human['unrated']} rows unrated, "
            f"{human['unknown_items']} about items not judged here):",
            "",
        ]
        lines += markdown_lines(["Dimension", "Judge", "Items", "Accuracy", "Cohen's kappa"], rows, "llrrr")
        for dim, d in human["dimensions"].items():
            if d.get("inter_rater"):
                lines.append(
                    f"Raters on {dim}: Fleiss' kappa {_stat(d['inter_rater'].get('fleiss'))}, "
                    f"{d['raters_split']} item(s) the raters split on (left out)"
                )
    if summary.get("disagreements_total"):
        lines += [
            "",
            f"The judges disagree on {summary['disagreements_total']} item-dimension(s) "
            "(each judge's reply: the HTML report, or summary.json's 'disagreements').",
        ]
    return lines
