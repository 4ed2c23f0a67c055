"""A run killed mid-way, re-run with the same command, asks the model only for unfinished requests."""

import json

import pytest
from lm_eval.models.huggingface import HFLM

from medbench.paths import SAMPLES_DIR
from medbench.runner import RunConfig, run


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
