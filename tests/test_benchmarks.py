"""The benchmarks cannot rot: every script in benchmarks/ runs its ``--smoke`` mode here (tiny model,
one item per subject, seconds), so an import a refactor moved fails CI, not the next measurement.
Scripts are found by glob: a new benchmark joins without editing this file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.parametrize("script", sorted(BENCHMARKS.glob("*.py")), ids=lambda p: p.name)
def test_every_benchmark_runs_its_smoke_mode(script: Path, tiny_model):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(
        [sys.executable, str(script), "--smoke"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{script.name} --smoke failed:\n{done.stderr[-3000:]}"
    assert done.stdout.strip(), f"{script.name} --smoke printed nothing"


def test_gpu_check_runs_on_a_cpu_with_a_tiny_shape_and_writes_one_table(tmp_path, tiny_model):
    env = {
        **os.environ,
        "SHAPE": "tiny",
        "LIMIT": "2",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    done = subprocess.run(  # a relative OUT is the caller's: here, under tmp_path, never the checkout
        ["bash", str(BENCHMARKS / "gpu_check.sh"), "out"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert not (BENCHMARKS.parent / "out").exists()
    table = (tmp_path / "out" / "gpu_check.md").read_text(encoding="utf-8").splitlines()
    rows = [line for line in table if line.startswith("| random-tiny")]
    assert [row.split(",")[1].strip() for row in rows] == ["bfloat16", "float32"]
    assert any(
        line.startswith("| model, dtype, batch (load) | lm-eval hf | hf-fast | ratio") for line in table
    )
    assert any(line.startswith("device cpu") and "transformers" in line for line in table)


def test_gpu_check_refuses_an_unknown_shape_in_one_line(tmp_path):
    env = {**os.environ, "SHAPE": "bogus"}
    done = subprocess.run(
        ["bash", str(BENCHMARKS / "gpu_check.sh"), str(tmp_path)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        "gpu_check.sh: SHAPE=bogus: expected llama-1b or tiny"
    ]
