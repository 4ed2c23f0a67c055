"""What each training stage changed: consecutive stages of one recipe compared item by item.

An average that moves from 38.10 to 23.81 says nothing about which questions a stage fixed or broke,
nor whether the move is more than noise. Here each pair of consecutive stages (base -> pretrain ->
sft -> ...) is put through :func:`medbench.analysis.compare.compare` (a group's subjects pooled), and
each task reads "fixed N, broke M (exact McNemar p = ...)". Used by ``medbench report`` (stages.md
and the index page) and ``medbench demo``.
"""

from __future__ import annotations

from pathlib import Path

from medbench.analysis.compare import compare, fixed_broke_line
from medbench.core.errors import MedbenchError
from medbench.report.folders import Folder
from medbench.report.plots import stage_order, stage_runs

Stage = Path | dict[str, Path]  # a run folder, or task -> the run folder that holds it


def _by_task(run: Stage) -> dict[str, Path]:
    """task -> the run folder whose per-sample file of that task stands for the stage."""
    if isinstance(run, dict):
        return run
    folder = Path(run) / "samples"
    return {p.stem: Path(run) for p in folder.glob("*.jsonl")} if folder.is_dir() else {}


def changes(pairs: list[tuple[str, Stage, str, Stage]]) -> list[str]:
    """``(name_a, run_a, name_b, run_b)`` -> one line per pair, each task's fixed/broke counts and
    test. A stage is a run folder, or task -> run folder (a stage evaluated by several runs, such as
    its own evaluation and a suite's one-task runs): each task is compared between the runs that hold
    it, so a later one-task run never hides the rest. A pair that cannot be compared says why."""
    lines = []
    for name_a, run_a, name_b, run_b in pairs:
        a, b = _by_task(run_a), _by_task(run_b)
        combos: dict[tuple[Path, Path], list[str]] = {}
        for task in sorted(set(a) & set(b)):
            combos.setdefault((a[task], b[task]), []).append(task)
        results, why = [], "no task in both"
        for (folder_a, folder_b), tasks in combos.items():
            try:
                results += compare(folder_a, folder_b, tasks=tasks, by_group=True)
            except MedbenchError as exc:
                why = str(exc)
        if results:
            lines.append(f"{name_a} -> {name_b}: " + "; ".join(fixed_broke_line(r) for r in results))
        else:
            lines.append(f"{name_a} -> {name_b}: not compared ({why})")
    return lines


def _latest_per_task(runs: list[Folder]) -> dict[str, Path]:
    """task -> the newest of these runs with per-sample outputs of it."""
    out: dict[str, Path] = {}
    for run in sorted(runs, key=lambda r: r.path.name):
        out.update(_by_task(run.path))
    return out


def recipe_changes(runs: list[Folder]) -> dict[str, list[str]]:
    """Per recipe in these run folders, the lines of :func:`changes` between consecutive stages (each
    task from the stage's newest run that holds it)."""
    out = {}
    for recipe, stages in stage_runs(runs).items():
        chosen = [(stage, _latest_per_task(stages[stage])) for stage in stage_order(stages)]
        chosen = [(stage, tasks) for stage, tasks in chosen if tasks]
        pairs = [(a, ta, b, tb) for (a, ta), (b, tb) in zip(chosen, chosen[1:], strict=False)]
        if pairs:
            out[recipe] = changes(pairs)
    return out


def markdown(by_recipe: dict[str, list[str]]) -> str:
    parts = []
    for recipe, lines in by_recipe.items():
        parts += [f"## {recipe}: what each stage fixed and broke", "", *(f"- {line}" for line in lines), ""]
    if parts:
        parts.append(
            "Fixed: wrong before the stage, right after; broke: the reverse (items both runs scored; a "
            "group's subjects pooled). p: exact McNemar test on those items."
        )
    return "\n".join(parts) + ("\n" if parts else "")
