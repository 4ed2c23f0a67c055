"""What each training stage changed: consecutive stages of one recipe compared item by item.

An average that moves from 38.10 to 23.81 says nothing about which questions a stage fixed or broke,
nor whether the move is more than noise. Here each pair of consecutive stages (base -> pretrain ->
sft -> ...) is put through :func:`medbench.compare.compare` (a group's subjects pooled), and each task
reads "fixed N, broke M (exact McNemar p = ...)". Used by ``medbench report`` (stages.md and the index
page) and ``medbench demo``.
"""

from __future__ import annotations

from pathlib import Path

from medbench.compare import compare, fixed_broke_line
from medbench.errors import MedbenchError
from medbench.folders import Folder
from medbench.report_plots import stage_order, stage_runs


def changes(pairs: list[tuple[str, Path, str, Path]]) -> list[str]:
    """``(name_a, run_a, name_b, run_b)`` -> one line per pair, each task's fixed/broke counts and
    test; a pair that cannot be compared says why."""
    lines = []
    for name_a, run_a, name_b, run_b in pairs:
        try:
            results = compare(run_a, run_b, by_group=True)
        except MedbenchError as exc:
            lines.append(f"{name_a} -> {name_b}: not compared ({exc})")
            continue
        lines.append(f"{name_a} -> {name_b}: " + "; ".join(fixed_broke_line(r) for r in results))
    return lines


def _latest(runs: list[Folder]) -> Folder | None:
    with_samples = [r for r in runs if (r.path / "samples").is_dir()]
    return max(with_samples, key=lambda r: r.path.name) if with_samples else None


def recipe_changes(runs: list[Folder]) -> dict[str, list[str]]:
    """Per recipe in these run folders, the lines of :func:`changes` between consecutive stages (each
    stage's latest run with per-sample outputs)."""
    out = {}
    for recipe, stages in stage_runs(runs).items():
        chosen = [(stage, _latest(stages[stage])) for stage in stage_order(stages)]
        chosen = [(stage, run) for stage, run in chosen if run is not None]
        pairs = [(a, ra.path, b, rb.path) for (a, ra), (b, rb) in zip(chosen, chosen[1:], strict=False)]
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
