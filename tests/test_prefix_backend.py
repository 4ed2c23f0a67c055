"""The prefix-cached backend gives the plain hf backend's answers, only faster (speed: benchmarks/)."""

import pytest
from lm_eval.models.huggingface import HFLM

from medbench.backends._prefix_hf import PrefixCachedHFLM
from medbench.backends._prefixes import prefix_groups, single_token_requests, trie_size
from medbench.core.paths import SAMPLES_DIR
from medbench.run.runner import RunConfig, run
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


def circular_requests(data_dir, task: str, questions: int):
    """The 5-shot requests of every rotation of the first ``questions`` questions of ``task``."""
    from medbench.run.planning import task_manager
    from medbench.scoring import rotations

    metadata = {"data_dir": str(data_dir), **rotations.metadata([task], task_manager(), questions)}
    instances = []
    for t in task_manager(metadata).load([task])["tasks"].values():
        t.build_all_requests(limit=questions * 4, rank=0, world_size=1)
        instances += t.instances
    return instances


def batch_shapes(lm) -> list[tuple[int, int, bool]]:
    """(rows, width, padded) of every forward pass ``lm`` makes from now on."""
    shapes = []

    def hook(_module, args, kwargs):
        ids = kwargs.get("input_ids") if kwargs.get("input_ids") is not None else args[0]
        mask = kwargs.get("attention_mask")
        shapes.append((*ids.shape, mask is not None and bool((mask[:, -ids.shape[1] :] == 0).any())))

    lm.model.register_forward_pre_hook(hook, with_kwargs=True)
    return shapes


def test_batched_members_give_batch_one_log_likelihoods_padded_circular_and_over_long(
    tiny_model, shared_data, monkeypatch
):
    # three subjects, hand-made edge cases (an unshared context, a multi-token answer, a question far
    # longer than the rest: with max_length 1024 its context is over-long and takes the plain path),
    # and every rotation of 3 questions, whose stems are a nested prefix below the few-shot block
    instances, extra = mixed_mc_requests(shared_data, limit=4)
    requests = instances + extra + circular_requests(shared_data, "ceval_med_physician", 3)
    settings = dict(pretrained=tiny_model, device="cpu", dtype="float32", max_length=1024)
    batched = PrefixCachedHFLM(batch_size=32, **settings)
    shapes = batch_shapes(batched)
    got = batched.loglikelihood(requests)

    one = PrefixCachedHFLM(batch_size=32, **settings)
    monkeypatch.setattr(one, "_position_budget", lambda *_: 0)  # every member batch one row
    one_shapes = batch_shapes(one)
    expected = one.loglikelihood(requests)

    assert max(abs(a - b) for (a, _), (b, _) in zip(got, expected, strict=True)) <= 1e-5
    assert [g for _, g in got] == [g for _, g in expected]
    assert batched.tokens_forwarded == one.tokens_forwarded  # the same trie: nested stretches run once
    assert any(rows > 1 and padded for rows, _, padded in shapes)  # members of different lengths, padded
    assert all(rows == 1 for rows, _, _ in one_shapes[:-1])  # (the plain path's batch comes last)
    assert len(shapes) < len(one_shapes)


def test_member_batches_hold_the_budget_and_keep_similar_widths():
    from medbench.backends._prefix_hf import member_batches

    widths = [10, 80, 12, 70, 75, 11, 500]
    batches = member_batches(widths, cached=100, budget=4 * 180)
    assert batches == [[6], [1, 4, 3], [2, 5, 0]]  # widest first; 500 alone (over budget)
    for batch in batches:
        assert len(batch) == 1 or len(batch) * (100 + widths[batch[0]]) <= 4 * 180
        assert all(widths[i] >= 0.75 * widths[batch[0]] for i in batch)


def _random_model(tiny_model: str, folder, model_type: str, **sizes) -> str:
    """A random-weight model of another architecture, small, with the tiny model's tokenizer."""
    import shutil

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    vocab = AutoConfig.from_pretrained(tiny_model).vocab_size
    config = AutoConfig.for_model(model_type, vocab_size=vocab, hidden_size=64, num_hidden_layers=2, **sizes)
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(f"{tiny_model}/{name}", folder)
    return str(folder)


@pytest.mark.parametrize(
    ("model_type", "sizes", "shares"),
    [
        # a recurrent state: transformers continues it wrongly by several tokens at once (~10 nats)
        ("mamba", {"state_size": 4, "initializer_range": 0.3}, False),
        # a sliding window: each member on its own copy of the prefix's cache
        ("mistral", {"sliding_window": 8, "num_attention_heads": 4, "num_key_value_heads": 2}, True),
    ],
)
def test_other_cache_kinds_give_hfs_log_likelihoods(tiny_model, tmp_path, caplog, model_type, sizes, shares):
    model = _random_model(tiny_model, tmp_path / model_type, model_type, **sizes)
    instances, extra = mixed_mc_requests(SAMPLES_DIR, limit=2)
    requests = instances + extra
    settings = dict(pretrained=model, device="cpu", dtype="float32", batch_size=8, max_length=1024)
    expected = HFLM(**settings).loglikelihood(requests)
    fast = PrefixCachedHFLM(**settings)
    got = fast.loglikelihood(requests)
    assert max(abs(a - b) for (a, _), (b, _) in zip(got, expected, strict=True)) <= 1e-5
    assert [g for _, g in got] == [g for _, g in expected]
    assert fast.shares_prefixes is shares
    assert ("keeps a recurrent state" in caplog.text) is not shares
