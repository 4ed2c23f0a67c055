"""``medbench suite NAME``: one paper's whole evaluation protocol, then its tables beside the paper's.

Suites are data (``suites/<name>.yaml``): run parts (tasks with their settings), bias scales, a judge
step against a baseline run, and the paper tables to write. Every part whose data, items file or judge
is unavailable is skipped with one line saying why; the rest runs, and ``medbench report`` writes the
paper-layout tables (with the published rows) into the suite folder.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from medbench.config import plugin_files
from medbench.config.plugins import load_plugin
from medbench.config.schemas import SCHEMA_VERSION
from medbench.config.suite import SuiteConfig
from medbench.core.errors import MedbenchError
from medbench.data.catalog import leaf_tasks, load_task_data
from medbench.run.planning import run_metadata, task_manager
from medbench.run.runner import RunConfig, run

RUN_OPTIONS = ("repeats", "preset", "mode", "shots")


def load_suite(name: str) -> dict:
    return load_plugin("suites", name, "suite", plugin_files.Suite)


def available(task: str, config: SuiteConfig) -> str | None:
    """None when every leaf task's data loads, else the one-line reason."""
    manager = task_manager()
    metadata = run_metadata(RunConfig(model=config.model, tasks=[], data_dir=config.data_dir))
    try:
        for leaf in leaf_tasks(manager, task):
            load_task_data(manager, leaf, metadata)
    except MedbenchError as exc:
        return str(exc)
    return None


def plan(config: SuiteConfig) -> dict:
    """What the suite will run, with each skipped part and its reason (the --dry-run output)."""
    suite = load_suite(config.suite)
    parts = []
    for part in suite.get("parts", []):
        ready, skipped = [], {}
        for task in part["tasks"]:
            reason = available(task, config)
            if reason:
                skipped[task] = reason
            else:
                ready.append(task)
        settings = {k: part[k] for k in RUN_OPTIONS if k in part}
        parts.append({"name": part["name"], "tasks": ready, "skipped": skipped, "settings": settings})
    bias = []
    for scale in suite.get("bias", []):
        reason = (
            "MICA item texts are not shipped: pass --items FILE"
            if scale == "mica" and not config.items
            else None
        )
        bias.append({"scale": scale, "skipped": reason})
    judge = suite.get("judge")
    judge_plan = None
    if judge:
        named = config.judges or (config.judge_model and config.judge_base_url)
        if config.judges:  # a bad --judge is one line now, not after every task has run
            from medbench.config.judge import JudgeConfig
            from medbench.judge.jury import jury_of

            jury_of(
                JudgeConfig(
                    runs=[],
                    rubric=judge["rubric"],
                    judges=config.judges,
                    min_valid_judges=config.min_valid_judges,
                    output=config.output,
                )
            )
        missing = [
            flag
            for flag, value in (
                ("--baseline", config.baseline),
                ("--judge-model and --judge-base-url (or --judge per juror)", named),
            )
            if not value
        ]
        judge_plan = {**judge, "skipped": f"needs {', '.join(missing)}" if missing else None}
    return {
        "suite": suite["suite"],
        "paper": suite["paper"],
        "parts": parts,
        "bias": bias,
        "judge": judge_plan,
        "tables": suite.get("tables", []),
        "conventions": suite.get("conventions", {}),
        "headline_convention": suite.get("headline_convention", {}),
        "outputs": [
            "<suite folder>/runs/...",
            "<suite folder>/report/leaderboard.md",
            *[f"<suite folder>/report/tables/{t}.{{md,csv,tex}}" for t in suite.get("tables", [])],
        ],
    }


def _baseline_run(baseline: str, task: str) -> str:
    """The baseline run folder holding ``task``'s samples (the folder itself, or one below it)."""
    root = Path(baseline)
    candidates = [root, *sorted(p.parent for p in root.rglob("config.json"))]
    for folder in candidates:
        if (folder / "samples" / f"{task}.jsonl").is_file():
            return str(folder)
    raise MedbenchError(f"baseline {baseline} has no run with per-sample outputs for {task}")


def run_suite(config: SuiteConfig) -> tuple[Path, dict]:
    """Plan and run every part (each run reads its tasks' data once)."""
    from medbench.bias.run import BiasConfig, run_bias
    from medbench.judge import JudgeConfig, run_judge
    from medbench.report.site import build

    steps = plan(config)
    root = Path(config.output) / f"{datetime.now():%Y%m%d-%H%M%S}-suite-{config.suite}"
    runs_dir = root / "runs"
    base = RunConfig(
        model=config.model,
        tasks=[],
        data_dir=config.data_dir,
        output=str(runs_dir),
        limit=config.limit,
        backend=config.backend,
        backend_options=config.backend_options,
        max_new_tokens=config.max_new_tokens,
    )
    task_runs: dict[str, str] = {}
    for part in steps["parts"]:
        for task, reason in part["skipped"].items():
            print(f"medbench suite: skipping {task}: {reason}")
        if not part["tasks"]:
            continue
        print(f"medbench suite: running {part['name']}: {', '.join(part['tasks'])}", flush=True)
        folder, _ = run(replace(base, tasks=list(part["tasks"]), **part["settings"]))
        task_runs.update({t: str(folder.path) for t in part["tasks"]})
    for item in steps["bias"]:
        if item["skipped"]:
            print(f"medbench suite: skipping bias scale {item['scale']}: {item['skipped']}")
            continue
        run_bias(
            BiasConfig(
                scale=item["scale"],
                model=config.model,
                items=config.items,
                output=str(runs_dir),
                backend=config.backend,
                backend_options=config.backend_options,
                mode="gen",  # the paper's protocol
            )
        )
    judge = steps["judge"]
    if judge and judge["skipped"]:
        print(f"medbench suite: skipping the judge step ({judge['rubric']}): {judge['skipped']}")
    elif judge:
        for task in judge["tasks"]:
            if task not in task_runs:
                continue
            run_judge(
                JudgeConfig(
                    runs=[task_runs[task], _baseline_run(config.baseline, task)],
                    task=task,
                    rubric=judge["rubric"],
                    judge_model=None if config.judges else config.judge_model,
                    base_url=None if config.judges else config.judge_base_url,
                    judges=config.judges,
                    aggregate=config.aggregate,
                    min_valid_judges=config.min_valid_judges,
                    output=str(runs_dir),
                )
            )
    build(
        [str(runs_dir)],
        str(root / "report"),
        ["md", "csv", "latex", "html"],
        tables=steps["tables"],
        headline=steps["headline_convention"],
    )
    record = {"schema_version": SCHEMA_VERSION, **steps}
    (root / "suite.json").write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
    return root, steps
