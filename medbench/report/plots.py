"""The report's figures: each task's main metric per model, the stage progression of trained models,
and the judge and bias charts of the folders reported (drawn by :mod:`medbench.judge.plots` and
:mod:`medbench.bias.plots`)."""

from __future__ import annotations

import logging
from pathlib import Path

from medbench.config.record import RunRecord
from medbench.config.schemas import ModelCard
from medbench.core.errors import MedbenchError
from medbench.core.safe_names import plain_name
from medbench.core.writing import make_folder
from medbench.report.build import Headline, main_metric, measured
from medbench.report.folders import Folder, judge_names

log = logging.getLogger("medbench")


def plot_tasks(runs: list[Folder], out: Path, headline: Headline = None) -> list[str]:
    """One bar chart per task that some model has a score for: the main metric of every model (a task
    no model scored gets no chart: its page says so in words, not in an empty panel)."""
    from medbench.core.plotting import pyplot, save

    plt = pyplot()

    table = measured(runs)
    tasks = sorted({task for scores in table.values() for task, _, _ in scores})
    make_folder(out, "the report's plots")
    written = []
    for task in tasks:
        models, values, spans, label = [], [], [], ""
        for model, scores in table.items():
            picked = main_metric(scores, task, headline)
            if picked and scores[(task, *picked)]["value"] is not None:
                score = scores[(task, *picked)]
                models.append(model)
                values.append(100 * score["value"])
                low, high = score.get("ci_low"), score.get("ci_high")
                spans.append((100 * low, 100 * high) if low is not None and high is not None else None)
                label = picked[0]
        if not models:
            continue
        fig, ax = plt.subplots(figsize=(max(4.0, 1.5 + 0.8 * len(models)), 3))
        ax.set_title(task)
        # each bar with its 95% interval (none drawn where a score has none)
        below = [v - s[0] if s else 0.0 for v, s in zip(values, spans, strict=True)]
        above = [s[1] - v if s else 0.0 for v, s in zip(values, spans, strict=True)]
        bars = ax.bar(
            range(len(models)), values, color="#4C72B0", yerr=[below, above], capsize=3, ecolor="#333"
        )
        ax.bar_label(bars, fmt="%.1f", fontsize=8, padding=2)
        top = max([*values, *(s[1] for s in spans if s)])
        ax.set_ylim(0, max(top, 1.0) * 1.15)  # from 0, room for the labels; never a -0.05..0.05 axis
        ax.set_xticks(range(len(models)), models, rotation=20, ha="right")
        ax.set_ylabel(f"{label} (x100), 95% interval")
        save(fig, out / task, dpi=110)
        written.append(task)
    return written


def _model_path(run: Folder) -> str:
    """Where the run's model was loaded from: ``model.json``'s resolved path (an alias such as
    ``tiny`` is not a folder), else the configured model."""
    try:
        path = RunRecord.open(run.path).model().get("path")
    except MedbenchError:
        path = None
    return str(Path(str(path or run.config.get("model", ""))).resolve())


def stage_runs(runs: list[Folder]) -> dict[str, dict[str, list[Folder]]]:
    """recipe -> stage -> the runs of that stage's model, from the model cards the runs recorded
    (``model_card.json``: the report reads only the folders it is given, never the model folder a
    received model.json names); the model a recipe started from (a stage's ``base_model`` that no
    stage produced) is stage ``base``."""
    by_model: dict[str, list[Folder]] = {}
    for run in runs:
        by_model.setdefault(_model_path(run), []).append(run)
    cards: dict[str, ModelCard] = {}
    where: dict[str, Path] = {}
    for model, model_runs in by_model.items():
        for run in model_runs:
            record = RunRecord.open(run.path)
            if model in cards or not record.has("model_card.json"):
                continue
            try:
                cards[model], where[model] = record.model_card(), run.path / "model_card.json"
            except MedbenchError as exc:
                log.warning("report: no stage plot for %s: %s", run.model, exc)
    out: dict[str, dict[str, list[Folder]]] = {}
    for model, card in cards.items():
        if card.recipe:
            try:  # the recipe names the plot's file
                plain_name(card.recipe, "recipe", where[model])
            except MedbenchError as exc:
                log.warning("report: no stage plot: %s", exc)
                continue
            out.setdefault(card.recipe, {}).setdefault(card.stage, []).extend(by_model[model])
    for recipe, stages in out.items():
        produced = {m for m, c in cards.items() if c.recipe == recipe}
        bases = {
            str(Path(c.base_model).resolve()) for c in cards.values() if c.recipe == recipe and c.base_model
        }
        for base in sorted((bases - produced) & set(by_model)):
            stages.setdefault("base", []).extend(by_model[base])
    return out


def stage_order(stages: dict) -> list[str]:
    """The stages a recipe's runs cover, in training order (``base`` first)."""
    from medbench.train.stages import registry as stage_registry

    return [s for s in ("base", *stage_registry()) if s in stages]


def stage_progression(runs: list[Folder], out: Path) -> list[str]:
    """Per recipe, each task's main metric from the base model through every trained stage (all runs
    of a stage's model together; a later run of a task wins), from the models' model cards."""
    from medbench.core.plotting import no_data, pyplot, save

    plt = pyplot()
    written = []
    make_folder(out, "the report's plots")
    for recipe, stages in stage_runs(runs).items():
        order = stage_order(stages)
        tables: dict[str, dict] = {stage: {} for stage in order}  # a stage may have no score to show
        for stage in order:  # every run of the stage's model, whatever its row label
            for scores in measured(stages[stage]).values():
                tables[stage].update(scores)
        groups = {t for scores in tables.values() for t, _, c in scores if c == "micro"}
        every = {t for scores in tables.values() for t, _, _ in scores}
        tasks = sorted(groups | {t for t in every if not any(t.startswith(f"{g}_") for g in groups)})
        tasks = [t for t in tasks if sum(any(k[0] == t for k in tables[s]) for s in order) > 1]  # lines
        fig, ax = plt.subplots(figsize=(7, 3.8))
        ax.set_title(f"{recipe}: main metric by training stage")
        for task in tasks:
            points, below, above = [], [], []
            for stage in order:
                picked = main_metric(tables[stage], task)
                s = tables[stage][(task, *picked)] if picked else {}
                value, low, high = s.get("value"), s.get("ci_low"), s.get("ci_high")
                points.append(float("nan") if value is None else 100 * value)
                below.append(0.0 if value is None or low is None else 100 * (value - low))
                above.append(0.0 if value is None or high is None else 100 * (high - value))
            # each point with its 95% interval (metrics.json), so a gap reads against its noise
            ax.errorbar(order, points, yerr=[below, above], marker="o", capsize=3, label=task)
        if tasks:
            ax.set_ylabel("main metric (x100)")
            ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        else:
            no_data(ax, "no stage has a score")
        save(fig, out / f"stages-{recipe}", dpi=110)
        written.append(recipe)
    return written


def extra_plots(folders: list[Folder], out: Path) -> None:
    """Judge stacked bars (one per judge folder) and the bias chart across models."""
    from medbench.bias.plots import bias_bars as plot_bias
    from medbench.judge.plots import judge_bars as plot_judge
    from medbench.judge.plots import judge_length_bias

    names = judge_names(folders)
    for judge in (f for f in folders if f.kind == "judge" and "dimensions" in f.data):
        plot_judge(judge.data, out / f"judge-{judge.path.name}", names.get(judge.path.name))
        judge_length_bias(judge.data, out / f"judge-length-{judge.path.name}")
    bias = {f.model: f.data for f in folders if f.kind == "bias"}
    if bias:
        plot_bias(bias, out / "bias")
