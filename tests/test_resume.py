"""A run killed mid-way, re-run with the same command, asks the model only for unfinished requests."""

import json

import pytest
from lm_eval.models.huggingface import HFLM

from medbench.core.paths import SAMPLES_DIR
from medbench.run.runner import RunConfig, run


class Killed(BaseException):
    """Stands in for SIGINT/SIGKILL: nothing in lm-eval catches it."""


def _config(model, out):
    return RunConfig(
        model=model,
        tasks=["cmmlu_med"],
        data_dir=str(SAMPLES_DIR),
        output=str(out),
        backend_options={"batch_size": 2},
    )


def _requests_sent(folder) -> int:
    return json.loads((folder.path / "calls.json").read_text())["model_requests"].get("loglikelihood", 0)


def test_killed_run_resumes_from_the_request_cache(tiny_model, tmp_path, monkeypatch):
    forward_calls = 0
    original = HFLM._model_call

    def dies_after_three_batches(self, *args, **kwargs):
        nonlocal forward_calls
        forward_calls += 1
        if forward_calls > 3:
            raise Killed
        return original(self, *args, **kwargs)

    monkeypatch.setattr(HFLM, "_model_call", dies_after_three_batches)
    with pytest.raises(Killed):
        run(_config(tiny_model, tmp_path))
    monkeypatch.setattr(HFLM, "_model_call", original)

    total = 21 * 4  # 7 subjects x 3 items x 4 options
    resumed, _ = run(_config(tiny_model, tmp_path))
    sent = _requests_sent(resumed)
    assert 0 < sent < total  # finished requests came from the cache, the rest were computed

    again, _ = run(_config(tiny_model, tmp_path))
    assert _requests_sent(again) == 0  # a finished run re-run makes no model calls at all
    first = json.loads((resumed.path / "metrics.json").read_text())
    second = json.loads((again.path / "metrics.json").read_text())
    assert first == second


def test_a_run_served_from_the_cache_says_how_many_answers_came_from_it(tiny_model, tmp_path):
    settings = dict(model=tiny_model, tasks=["ceval_med"], data_dir=str(SAMPLES_DIR), limit=2)
    first, _ = run(RunConfig(output=str(tmp_path), **settings))
    again, _ = run(RunConfig(output=str(tmp_path), **settings))
    asked = json.loads((first.path / "calls.json").read_text())
    cached = json.loads((again.path / "calls.json").read_text())
    assert asked["model_requests"] == {"loglikelihood": 24} and asked["answered_from_cache"] == {}
    assert cached["model_requests"] == {} and cached["answered_from_cache"] == {"loglikelihood": 24}


def test_outside_a_git_checkout_nothing_from_git_reaches_the_console(tiny_model, tmp_path):
    import os
    import subprocess
    import sys

    args = [
        "run",
        "--model",
        tiny_model,
        "--tasks",
        "ceval_med",
        "--limit",
        "1",
        "--data-dir",
        str(SAMPLES_DIR),
    ]
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(tmp_path.parent)}
    done = subprocess.run(
        [sys.executable, "-m", "medbench", *args, "--output", str(tmp_path / "r")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "fatal" not in done.stderr


def test_a_rerun_answered_from_the_cache_says_so_on_the_console(tiny_model, tmp_path, capsys):
    """Issue 39: a re-run answered wholly from the cache into a new folder did not say so."""
    from medbench.cli.main import main

    args = ["run", "--model", tiny_model, "--tasks", "ceval_med", "--limit", "2"]
    args += ["--data-dir", str(SAMPLES_DIR), "--output", str(tmp_path)]
    assert main(args) == 0
    assert "from the request cache" not in capsys.readouterr().out
    assert main(args) == 0
    assert "24 of 24 answers from the request cache" in capsys.readouterr().out
