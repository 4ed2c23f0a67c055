"""Issue 37/39: the report's stage comparison compares each task between the runs that hold it. A
stage evaluated by its own run and later by a suite's one-task run was compared through the newest
folder alone, and the page said "not compared" where the demo printed fixed/broke counts."""

from __future__ import annotations

import json
from dataclasses import asdict

from medbench.analysis.summary import Score
from medbench.report.folders import collect
from medbench.report.stage_changes import recipe_changes
from medbench.run.rundir import RunFolder


def _run(root, models, cards, model: str, task: str, right: list[int], stamp: str) -> None:
    folder = RunFolder.create(root, model)
    folder.path = folder.path.rename(folder.path.with_name(f"{stamp}-{model}"))
    folder.write_json("config.json", {"model": str(models / model), "tasks": [task]})
    folder.write_json("metrics.json", [asdict(Score(task, "acc", sum(right) / len(right), len(right)))])
    folder.write_json("results.json", {"results": {}, "group_subtasks": {}})
    if model in cards:
        folder.write_json("model_card.json", cards[model])
    (folder.path / "samples").mkdir()
    records = [
        {
            "doc_id": i,
            "id": f"q{i}",
            "unit": f"q{i}",
            "gold": "A",
            "metrics": {"acc": float(r)},
            "correct": bool(r),
        }
        for i, r in enumerate(right)
    ]
    text = "\n".join(json.dumps(r) for r in records) + "\n"
    (folder.path / "samples" / f"{task}.jsonl").write_text(text, encoding="utf-8")


def test_a_later_one_task_run_of_a_stage_does_not_hide_its_other_tasks(tmp_path):
    models, runs = tmp_path / "models", tmp_path / "runs"
    cards = {"sft": {"recipe": "toy", "stage": "sft", "base_model": str(models / "base")}}
    cards["dpo"] = {"recipe": "toy", "stage": "dpo", "base_model": str(models / "sft")}
    _run(runs, models, cards, "sft", "medqa_mcmle", [0, 0, 1, 1], "20260101-000000")
    _run(runs, models, cards, "dpo", "medqa_mcmle", [1, 1, 1, 0], "20260101-000100")
    _run(runs, models, cards, "dpo", "huatuo26m", [1, 0], "20260101-000200")  # a suite's later run
    folders, _ = collect([str(runs)])
    (line,) = recipe_changes(folders)["toy"]  # the base model has no run: sft -> dpo only
    assert line == "sft -> dpo: medqa_mcmle: fixed 2, broke 1 (exact McNemar p = 1)", line
