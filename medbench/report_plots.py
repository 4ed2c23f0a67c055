"""The report's figures: each task's main metric per model, the stage progression of trained models,
and the judge and bias charts of the folders reported (drawn by :mod:`medbench.plotting`)."""

from __future__ import annotations

import logging
from pathlib import Path

from medbench import schemas
from medbench.errors import MedbenchError
from medbench.folders import Folder
from medbench.report import Headline, main_metric, measured
from medbench.schemas import ModelCard

log = logging.getLogger("medbench")


def plot_tasks(runs: list[Folder], out: Path, headline: Headline = None) -> list[str]:
    """One bar chart per task: the main metric of every model."""
    from medbench.plotting import pyplot, save

    plt = pyplot()

    table = measured(runs)
    tasks = sorted({task for scores in table.values() for task, _, _ in scores})
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for task in tasks:
        models, values, label = [], [], ""
        for model, scores in table.items():
            picked = main_metric(scores, task, headline)
            if picked and scores[(task, *picked)]["value"] is not None:
                models.append(model)
                values.append(100 * scores[(task, *picked)]["value"])
                label = picked[0]
        fig, ax = plt.subplots(figsize=(1.5 + 0.8 * len(models), 3))
        ax.bar(range(len(models)), values, color="#4C72B0")
        ax.set_xticks(range(len(models)), models, rotation=20, ha="right")
        ax.set_title(task)
        ax.set_ylabel(f"{label} (x100)")
        save(fig, out / task, dpi=110)
        written.append(task)
    return written


def stage_progression(runs: list[Folder], out: Path) -> list[str]:
    """Per recipe, each task's main metric across training stages (from the models' model cards)."""
    from medbench.plotting import pyplot, save
    from medbench.train.stages import registry as stage_registry

    plt = pyplot()

    by_recipe: dict[str, dict[str, Folder]] = {}
    for run in runs:
        card_file = Path(str(run.config.get("model", ""))) / "medbench_model_card.json"
        if card_file.is_file():
            try:
                card = schemas.read(ModelCard, card_file)
            except MedbenchError as exc:
                log.warning("report: no stage plot for %s: %s", run.model, exc)
                continue
            if card.recipe:
                by_recipe.setdefault(card.recipe, {})[card.stage] = run
    written = []
    for recipe, stages in by_recipe.items():
        order = [s for s in stage_registry() if s in stages]
        table = measured([stages[s] for s in order])
        fig, ax = plt.subplots(figsize=(6, 3.5))
        groups = {t for scores in table.values() for t, _, c in scores if c == "micro"}
        every = {t for scores in table.values() for t, _, _ in scores}
        tasks = sorted(groups | {t for t in every if not any(t.startswith(f"{g}_") for g in groups)})
        for task in tasks:
            points = []
            for stage in order:
                scores = table.get(stages[stage].model, {})
                picked = main_metric(scores, task)
                value = scores[(task, *picked)]["value"] if picked else None
                points.append(float("nan") if value is None else 100 * value)
            ax.plot(order, points, marker="o", label=task)
        ax.set_title(f"{recipe}: main metric by training stage")
        ax.legend(fontsize=7)
        save(fig, out / f"stages-{recipe}", dpi=110)
        written.append(recipe)
    return written


def extra_plots(folders: list[Folder], out: Path) -> None:
    """Judge stacked bars (one per judge folder) and the bias chart across models."""
    from medbench.plotting import bias_bars as plot_bias
    from medbench.plotting import judge_bars as plot_judge

    for judge in (f for f in folders if f.kind == "judge" and "dimensions" in f.data):
        plot_judge(judge.data, out / f"judge-{judge.path.name}")
    bias = {f.model: f.data for f in folders if f.kind == "bias"}
    if bias:
        plot_bias(bias, out / "bias")
