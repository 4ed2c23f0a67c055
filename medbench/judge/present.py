"""The judge folder's Markdown table (the report shows the same summary)."""

from __future__ import annotations

from medbench.safe_cells import markdown_lines


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
    lines = [
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
    lines += markdown_lines(header, rows, "l" + "r" * 10)
    means = {d: s["mean_score"] for d, s in summary["dimensions"].items() if s.get("mean_score")}
    if means:
        rows = [[d, _num(m["a"]), _num(m["b"])] for d, m in means.items()]
        lines += ["", *markdown_lines(["Dimension", "Mean score A", "Mean score B"], rows, "lrr")]
    u = summary["usage"]
    lines += [
        "",
        f"Judge requests: {u['requests']} (cached: {u['cached']}), tokens {u['prompt_tokens']} in / "
        f"{u['completion_tokens']} out, estimated cost {u['estimated_cost']:.4f}.",
    ]
    return "\n".join(lines) + "\n"
