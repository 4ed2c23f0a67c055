"""With --prompt-style lm-eval, our C-Eval and CMMLU predictions equal lm-eval's own tasks item by item.

The reference side is lm-eval's shipped template files (``_default_ceval_yaml``,
``cmmlu/_default_template_yaml``) pointed at the same CSV files; only the dataset location is changed.
"""

import json
from pathlib import Path

import lm_eval
import pytest
import yaml

from medbench.run.runner import RunConfig, run

LM_EVAL_TASKS = Path(lm_eval.__file__).parent / "tasks"
CEVAL = {"basic_medicine": "基础医学", "physician": "医师资格"}
CMMLU = {"anatomy": "解剖学", "virology": "病毒学"}
LIMIT = 12


def _reference_tasks(folder: Path, data: Path) -> list[str]:
    names = []
    for subject, zh in CEVAL.items():
        names.append(f"ref_ceval_{subject}")
        cfg = {
            "include": str(LM_EVAL_TASKS / "ceval" / "_default_ceval_yaml"),
            "task": names[-1],
            "dataset_path": "csv",
            "dataset_kwargs": {
                "data_files": {s: str(data / "ceval" / s / f"{subject}_{s}.csv") for s in ("dev", "val")}
            },
            "description": f"以下是中国关于{zh}的单项选择题，请选出其中的正确答案。\n\n",
        }
        (folder / f"{names[-1]}.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    for subject, zh in CMMLU.items():
        names.append(f"ref_cmmlu_{subject}")
        cfg = {
            "include": str(LM_EVAL_TASKS / "cmmlu" / "_default_template_yaml"),
            "task": names[-1],
            "dataset_path": "csv",
            "dataset_kwargs": {
                "data_files": {s: str(data / "cmmlu" / s / f"{subject}.csv") for s in ("dev", "test")}
            },
            "description": f"以下是关于{zh}的单项选择题，请直接给出正确答案的选项。\n\n",
        }
        (folder / f"{names[-1]}.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return names


def _reference_predictions(tiny_model, folder, names):
    from lm_eval.tasks import TaskManager

    results = lm_eval.simple_evaluate(
        model="hf",
        model_args={"pretrained": tiny_model, "device": "cpu"},
        tasks=names,
        batch_size=8,
        num_fewshot=5,  # lm-eval's templates leave shots to the command line; ours default to 5
        limit=LIMIT,
        log_samples=True,
        task_manager=TaskManager(include_path=str(folder), include_defaults=False),
    )
    out = {}
    for name, samples in results["samples"].items():
        for s in samples:
            logliks = [r[0][0] for r in s["resps"]]
            out[(name, s["doc_id"])] = logliks
    return out


@pytest.mark.slow
def test_lm_eval_prompt_style_reproduces_lm_eval_predictions(tiny_model, shared_data, tmp_path):
    ref_dir = tmp_path / "ref_tasks"
    ref_dir.mkdir()
    reference = _reference_predictions(tiny_model, ref_dir, _reference_tasks(ref_dir, shared_data))

    ours_tasks = [f"ceval_med_{s}" for s in CEVAL] + [f"cmmlu_med_{s}" for s in CMMLU]
    folder, _ = run(
        RunConfig(
            model=tiny_model,
            tasks=ours_tasks,
            prompt_style="lm-eval",
            limit=LIMIT,
            data_dir=str(shared_data),
            output=str(tmp_path / "runs"),
        )
    )
    compared = 0
    for ours, ref in zip(
        ours_tasks, [f"ref_ceval_{s}" for s in CEVAL] + [f"ref_cmmlu_{s}" for s in CMMLU], strict=True
    ):
        for line in (folder.path / "samples" / f"{ours}.jsonl").read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            ref_ll = reference[(ref, record["doc_id"])]
            our_ll = list(record["raw"].values())
            assert "ABCD"[ref_ll.index(max(ref_ll))] == record["extracted"], (ours, record["doc_id"])
            assert our_ll == pytest.approx(ref_ll, abs=1e-4)
            compared += 1
    assert compared == LIMIT * len(ours_tasks)
