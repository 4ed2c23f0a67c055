"""The judge's figures: verdicts per dimension, and the longer answer's share by length gap."""

from __future__ import annotations

from pathlib import Path

from medbench.core.plotting import pyplot, save
from medbench.judge.diagnostics import bin_order

#: stacked-bar colours of the judge chart, in the order drawn
OUTCOME_COLOURS = {"win": "#4C72B0", "tie": "#C0C0C0", "loss": "#DD8452"}


def judge_bars(summary: dict, path: Path, names: tuple[str, str] | None = None) -> bool:
    """Stacked win/tie/loss bars per dimension (Zhongjing Figure 4 style), each segment labelled with
    its share where it is wide enough to hold the number; ``names``: the two runs as the report names
    them. No chart (False) when nothing was judged: the judge's table says so."""
    dims = [d for d, s in summary["dimensions"].items() if s["judged"]]
    if not dims:
        return False
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 1.4 + 0.45 * len(dims)))
    first, second = names or (summary["model_a"], summary["model_b"])
    ax.set_title(f"{first} vs {second} ({summary.get('task', '')})", fontsize=10, loc="left")
    left = [0.0] * len(dims)
    for outcome, color in OUTCOME_COLOURS.items():
        values = [100 * (summary["dimensions"][d]["rates"][outcome] or 0) for d in dims]
        bars = ax.barh(dims, values, left=left, color=color, label=outcome, height=0.6)
        ax.bar_label(bars, labels=[f"{v:.0f}%" if v >= 8 else "" for v in values], label_type="center")
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_xlim(0, 100)
    ax.invert_yaxis()  # the first dimension on top, as listed
    ax.set_xlabel("% of judged items")
    ax.legend(ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.35 - 0.05 * len(dims)), frameon=False)
    save(fig, path)
    return True


def judge_length_bias(summary: dict, path: Path) -> bool:
    """The longer answer's share of decisive verdicts by length gap, one line per judge (its dimensions
    pooled), each point labelled with its n; False (nothing drawn) when no judge saw a length gap."""
    pooled: dict[str, dict[str, list[int]]] = {}
    for name, d in (summary.get("diagnostics") or {}).items():
        for bias in d["dimensions"].values():
            for label, b in bias["length_bins"].items():
                cell = pooled.setdefault(name, {}).setdefault(label, [0, 0])
                cell[0] += b["longer_won"]
                cell[1] += b["n"]
    if not pooled:
        return False
    plt = pyplot()
    labels = sorted({label for bins in pooled.values() for label in bins}, key=bin_order)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for name, bins in pooled.items():
        xs = [i for i, label in enumerate(labels) if label in bins]
        ys = [100 * bins[labels[i]][0] / bins[labels[i]][1] for i in xs]
        ax.plot(xs, ys, marker="o", label=name)
        for x, y in zip(xs, ys, strict=True):
            n = bins[labels[x]][1]
            ax.annotate(f"n={n}", (x, y), textcoords="offset points", xytext=(0, 6), fontsize=7)
    ax.axhline(50, color="#888888", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylim(-5, 110)
    ax.set_xlabel("length gap between the answers (characters)")
    ax.set_ylabel("longer answer wins (% of decisive)")
    ax.set_title(f"Length bias: {summary['model_a']} vs {summary['model_b']}", fontsize=10, loc="left")
    ax.legend(frameon=False, fontsize=8)
    save(fig, path)
    return True
