"""Every figure medbench draws (judge and bias charts; the report's task and stage plots), with names
drawn as plain text.

Every plot medbench draws labels bars with model, task and dimension names that come from users;
matplotlib would read ``$...$`` in such a name as mathtext (and fail on ``$\\foo$``), so mathtext is
off for every figure medbench makes.
"""

from __future__ import annotations

from pathlib import Path

from medbench.writing import failed_write

#: stacked-bar colours of the judge chart, in the order drawn
OUTCOME_COLOURS = {"win": "#4C72B0", "tie": "#C0C0C0", "loss": "#DD8452"}


#: CJK-capable families in order of preference; the first installed one draws what DejaVu Sans lacks
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "SimHei",
)
_CJK_FILES = ("cjk", "wqy", "sourcehan", "simhei", "msyh", "pingfang")


def _cjk_fallback(matplotlib) -> None:
    """Chinese in titles and labels: DejaVu Sans first, then an installed CJK font glyph by glyph
    (matplotlib's font fallback). Fonts installed after matplotlib built its font cache are added."""
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    if not known.intersection(CJK_FONTS):
        for path in font_manager.findSystemFonts():
            if any(k in Path(path).name.lower() for k in _CJK_FILES):
                font_manager.fontManager.addfont(path)
        known = {f.name for f in font_manager.fontManager.ttflist}
    matplotlib.rcParams["font.family"] = ["DejaVu Sans", *(f for f in CJK_FONTS if f in known)]


def pyplot():
    """``matplotlib.pyplot`` on the file-only Agg backend with mathtext parsing off and a CJK font
    behind the default one."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False
    _cjk_fallback(matplotlib)
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: Path, dpi: int = 120) -> None:
    """``<path>.png`` and ``<path>.svg`` (the suffix appended: a model name such as ``Qwen2.5`` keeps
    its dot), then the figure closed."""
    plt = pyplot()
    fig.tight_layout()
    try:
        for suffix in (".png", ".svg"):
            target = path.parent / f"{path.name}{suffix}"
            fig.savefig(target, dpi=dpi)
    except OSError as exc:  # no room, or a name too long for the file system: one line naming it
        raise failed_write(target, exc) from None
    finally:
        plt.close(fig)


def no_data(ax, why: str) -> None:
    """An empty panel that says why it is empty, rather than axes that look like a broken chart."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, f"no data: {why}", ha="center", va="center", transform=ax.transAxes, color="#555")


def judge_bars(summary: dict, path: Path) -> None:
    """Stacked win/tie/loss bars per dimension (Zhongjing Figure 4 style), each segment labelled with
    its share where it is wide enough to hold the number; "no data" when nothing was judged."""
    plt = pyplot()
    dims = [d for d, s in summary["dimensions"].items() if s["judged"]]
    fig, ax = plt.subplots(figsize=(7, 1.4 + 0.45 * max(len(dims), 1)))
    title = f"{summary['model_a']} vs {summary['model_b']} ({summary.get('task', '')})"
    ax.set_title(title, fontsize=10, loc="left")
    if not dims:
        judged = ", ".join(f"{d}: 0 judged" for d in summary["dimensions"]) or "no dimensions"
        no_data(ax, f"no item judged ({judged})")
        save(fig, path)
        return
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


def judge_length_bias(summary: dict, path: Path) -> bool:
    """The longer answer's share of decisive verdicts by length gap, one line per judge (its dimensions
    pooled), each point labelled with its n; False (nothing drawn) when no judge saw a length gap."""
    from medbench.judge.diagnostics import bin_order

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


def bias_bars(summaries_by_model: dict[str, list[dict]], path: Path) -> None:
    """Bars per model for each scale, each panel on its scale's range (ChiMed-GPT Figure 2 style)."""
    plt = pyplot()
    scales = sorted({s["scale"] for summaries in summaries_by_model.values() for s in summaries})
    fig, axes = plt.subplots(1, len(scales), figsize=(4 + 1.2 * len(summaries_by_model), 3.5), squeeze=False)
    for ax, name in zip(axes[0], scales, strict=True):
        low, high = next(
            s["range"] for summaries in summaries_by_model.values() for s in summaries if s["scale"] == name
        )
        models, means, errors = [], [], []
        for model, summaries in summaries_by_model.items():
            s = next((x for x in summaries if x["scale"] == name and x["mean"] is not None), None)
            if s:
                models.append(
                    model + (f" ({s['items_answered']}/{s['items_in_scale']} items)" if s["partial"] else "")
                )
                means.append(s["mean"])
                errors.append([[s["mean"] - s["ci95"][0]], [s["ci95"][1] - s["mean"]]])
        if not models:
            no_data(ax, f"{name.upper()}: no model answered")
            continue
        ax.bar(range(len(models)), means, color="#4C72B0")
        for i, err in enumerate(errors):
            ax.errorbar(i, means[i], yerr=err, color="black", capsize=3)
        ax.set_xticks(range(len(models)), models, rotation=20, ha="right")
        ax.set_ylim(low, high)
        ax.set_title(f"{name.upper()} (range {low}-{high})")
        ax.set_ylabel("average bias score")
    save(fig, path)
