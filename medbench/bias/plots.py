"""The bias scales' figure: each model's mean per scale with its interval."""

from __future__ import annotations

from pathlib import Path

from medbench.core.plotting import no_data, pyplot, save


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
