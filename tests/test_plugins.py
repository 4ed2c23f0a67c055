"""Our tasks are plain lm-eval plug-ins, and a non-editable install ships them."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from medbench.core.paths import SAMPLES_DIR
from medbench.run.planning import task_manager

ROOT = Path(__file__).resolve().parent.parent


def test_every_yaml_is_indexed_by_lm_eval():
    manager = task_manager()
    expected = {p.stem for p in (ROOT / "tasks").rglob("*.yaml")}
    assert expected == set(manager.all_subtasks) | set(manager.all_groups)
    assert {
        "ceval_med",
        "ceval_med_chimed",
        "cmmlu_med",
        "cmmlu_med_all",
        "medqa_mcmle",
        "cmexam",
    } <= expected


def test_groups_hold_the_subjects_chimed_gpt_used():
    from medbench.data.catalog import leaf_tasks

    manager = task_manager()
    assert leaf_tasks(manager, "ceval_med_chimed") == [
        "ceval_med_basic_medicine",
        "ceval_med_clinical_medicine",
    ]
    assert len(leaf_tasks(manager, "cmmlu_med")) == 7 and len(leaf_tasks(manager, "cmmlu_med_all")) == 11


def test_medbench_works_from_any_folder(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "medbench", "tasks", "--data-dir", str(SAMPLES_DIR)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {line.split("|")[1].strip(): line for line in proc.stdout.splitlines() if line.startswith("| ")}
    assert "group of 3" in rows["ceval_med"] and "| 12 |" in rows["ceval_med"]
    assert "| 7 |" in rows["cmexam"]
    about = next(line for line in proc.stdout.splitlines() if line.startswith("- cmexam: "))
    assert "cmexam/val.csv" in about  # the data source, in the task's wrapped description


@pytest.mark.slow
def test_plain_lm_eval_runs_our_cmexam_task_unchanged(tiny_model, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MEDBENCH_DATA": str(SAMPLES_DIR)}
    lm_eval = Path(sys.executable).with_name("lm_eval")
    proc = subprocess.run(
        [
            str(lm_eval),
            "--model",
            "hf",
            "--model_args",
            f"pretrained={tiny_model}",
            "--include_path",
            str(ROOT / "tasks"),
            "--tasks",
            "cmexam",
            "--limit",
            "3",
            "--output_path",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "|cmexam|" in proc.stdout.replace(" ", "")
    assert "parse_fail_rate" in proc.stdout


@pytest.mark.slow
def test_wheel_ships_the_task_plugins(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheel = next(tmp_path.glob("medbench-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "medbench/_plugins/tasks/cmexam/cmexam.yaml" in names
    assert "medbench/_plugins/tasks/_mc_gen_yaml" in names
    assert "medbench/_plugins/tasks/_decoding_presets_yaml" in names
    assert (
        "medbench/_plugins/trainers/tiny.yaml" in names
        and "medbench/_plugins/trainers/deepspeed_zero3.json" in names
    )
    assert "medbench/_plugins/bias/cami.yaml" in names and "medbench/_plugins/bias/prompts.yaml" in names
    assert (
        "medbench/_plugins/judges/iimedgpt_pf.yaml" in names
        and "medbench/_plugins/judges/zhongjing_spf.yaml" in names
    )
    assert "medbench/resources/samples/cmexam/val.csv" in names
    assert "medbench/resources/corpus_zh.txt" in names
