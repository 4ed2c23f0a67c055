"""The prefix-cached backend gives the plain hf backend's answers, only faster (speed: benchmarks/)."""

import pytest
from lm_eval.models.huggingface import HFLM

from medbench.backends._prefix_hf import PrefixCachedHFLM
from medbench.backends._prefixes import prefix_groups, single_token_requests, trie_size
from medbench.paths import SAMPLES_DIR
from medbench.runner import RunConfig, run
from tests.helpers import mixed_mc_requests, predictions


@pytest.fixture(scope="module")
def backends(tiny_model):
    return (
        HFLM(pretrained=tiny_model, device="cpu", batch_size=4),
        PrefixCachedHFLM(pretrained=tiny_model, device="cpu", batch_size=4),
    )


def test_mixed_subjects_long_questions_unshared_and_multi_token_requests_match(backends, shared_data):
    plain, fast = backends
    instances, extra = mixed_mc_requests(shared_data, limit=6)
    requests = instances + extra
    expected = plain.loglikelihood(requests)
    got = fast.loglikelihood(requests)
    assert [g for _, g in got] == [g for _, g in expected]
    assert max(abs(a - b) for (a, _), (b, _) in zip(got, expected, strict=True)) <= 1e-3
    # identical predictions item by item
    assert predictions(instances, got) == predictions(instances, expected)


def test_prefix_groups_share_prefixes_and_leave_each_member_its_own_token():
    a, b, c = tuple(range(40)), tuple(range(38)) + (99, 98), (7,) * 30
    groups = prefix_groups([a, b, c], min_shared=16)
    shared = [g for g in groups if len(g[1]) > 1]
    assert shared == [(38, [0, 1])]
    assert all(length < min(len(x) for x in (a, b)) for length, _ in shared)


def test_only_untruncated_single_token_continuations_take_the_fast_path():
    requests = [
        ("k0", [1, 2, 3], [7]),  # fast
        ("k1", [1, 2, 3], [7, 8]),  # two continuation tokens
        ("k2", [], [7]),  # no context to condition on
        ("k3", list(range(11)), [7]),  # longer than the context limit: would be truncated
    ]
    assert single_token_requests(requests, max_context=10) == [0]


def test_minimum_tokens_count_each_shared_prefix_once():
    contexts = [[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 3, 4], [9]]
    assert trie_size(contexts) == 4 + 1 + 1  # 1 2 3 4, then 5, then 9; the duplicate adds nothing


def test_hf_fast_backend_runs_from_the_cli_with_the_same_scores(tiny_model, tmp_path):
    common = dict(tasks=["cmmlu_med", "ceval_med"], data_dir=str(SAMPLES_DIR))
    _, plain = run(RunConfig(model=tiny_model, output=str(tmp_path / "a"), **common))
    _, fast = run(RunConfig(model=tiny_model, backend="hf-fast", output=str(tmp_path / "b"), **common))
    assert [(s.task, s.metric, round(s.value, 6)) for s in plain] == [
        (s.task, s.metric, round(s.value, 6)) for s in fast
    ]
