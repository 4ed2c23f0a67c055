"""A data-parallel launch (`torchrun --nproc_per_node 2 -m medbench run ...` or `accelerate launch
--multi_gpu --num_processes 2 -m medbench run ...`): one run folder, written by rank 0, equal to a
one-process run; a worker process writes nothing and exits 0.

On CPU, lm-eval's `hf` model does not split the requests between the processes (its data
parallelism is for GPUs: each CPU process computes everything); what this checks is that medbench
under such a launch neither crashes in the workers nor writes twice, and that rank 0's numbers are
the one-process numbers.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from medbench.core.paths import SAMPLES_DIR

LAUNCHERS = {
    "torchrun": ["torchrun", "--nproc_per_node", "2"],
    # accelerate's flag for "start N processes through torch.distributed"; it runs on CPU too
    "accelerate": ["accelerate", "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1"]
    + ["--mixed_precision", "no", "--dynamo_backend", "no"],
}


@pytest.mark.slow
@pytest.mark.parametrize("launcher", list(LAUNCHERS))
def test_two_processes_write_one_run_folder_equal_to_one_process(launcher, tiny_model, tmp_path):
    if shutil.which(LAUNCHERS[launcher][0]) is None:
        pytest.skip(f"{LAUNCHERS[launcher][0]} is not on PATH")
    args = [
        "run",
        "--model",
        tiny_model,
        "--tasks",
        "ceval_med",
        "--data-dir",
        str(SAMPLES_DIR),
        "--limit",
        "4",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = subprocess.run(
        [sys.executable, "-m", "medbench", *args, "--output", str(tmp_path / "one")],
        env=env,
        capture_output=True,
    )
    assert one.returncode == 0, one.stderr.decode()[-2000:]
    two = subprocess.run(
        [*LAUNCHERS[launcher], "-m", "medbench", *args, "--output", str(tmp_path / "two")],
        env=env,
        capture_output=True,
    )
    assert two.returncode == 0, two.stderr.decode()[-2000:]
    assert b"Traceback" not in two.stderr
    (a,) = [p for p in (tmp_path / "one").iterdir() if not p.name.startswith(".")]
    (b,) = [p for p in (tmp_path / "two").iterdir() if not p.name.startswith(".")]  # one folder, not two
    assert json.loads((a / "metrics.json").read_text()) == json.loads((b / "metrics.json").read_text())
    for sample in (a / "samples").glob("*.jsonl"):
        assert sample.read_bytes() == (b / "samples" / sample.name).read_bytes()
