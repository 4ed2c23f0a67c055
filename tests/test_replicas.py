"""Routing between replicas of one served model: prefix groups stay on one replica, the load is
even, and `--base-url` may be given several times (only where the backend takes replicas)."""

import random

import pytest

from medbench.backends._replicas import MIN_SHARED, assign, prefix_groups
from medbench.cli.main import main


def _subject(seed: int, questions: int, block: int = 120) -> list[list[int]]:
    """Prompts of one subject: one few-shot block, then a short question each."""
    rng = random.Random(seed)
    shots = [rng.randrange(1000, 2000) for _ in range(block)]
    question = lambda: [rng.randrange(2000, 3000) for _ in range(rng.randrange(8, 30))]  # noqa: E731
    return [shots + question() for _ in range(questions)]


def test_questions_after_one_few_shot_block_form_one_group_whatever_their_order():
    subjects = [_subject(s, 5) for s in range(3)]
    prompts = [p for group in subjects for p in group]
    order = list(range(len(prompts)))
    random.Random(0).shuffle(order)
    groups = prefix_groups([prompts[k] for k in order])
    by_subject = {}
    for position, k in enumerate(order):
        by_subject.setdefault(k // 5, set()).add(groups[position])
    assert all(len(ids) == 1 for ids in by_subject.values())
    assert len({next(iter(ids)) for ids in by_subject.values()}) == 3


def test_a_shared_header_alone_does_not_join_subjects():
    header = list(range(MIN_SHARED + 8))  # an instruction every prompt starts with
    prompts = [header + p for seed in (1, 2) for p in _subject(seed, 3, block=200)]
    assert len(set(prefix_groups(prompts))) == 2
    zero_shot = [header + [5000 + k] * 10 for k in range(4)]  # the header is most of the prompt
    assert len(set(prefix_groups(zero_shot))) == 1


def test_whole_groups_go_to_the_least_loaded_replica():
    groups = [0] * 4 + [1] * 3 + [2] * 3 + [3] * 2
    plan = assign(groups, 2)
    for g in set(groups):
        assert len({plan[k] for k, x in enumerate(groups) if x == g}) == 1
    assert sorted(plan.count(r) for r in range(2)) == [6, 6]


def test_one_large_group_is_cut_so_every_replica_works():
    plan = assign([0] * 10, 3)  # one few-shot block for every question (e.g. MedQA 5-shot)
    assert sorted(plan.count(r) for r in range(3)) == [2, 4, 4]


def test_base_url_may_be_repeated_for_vllm_server_only(tiny_model, tmp_path, capsys):
    from medbench.backends.flags import backend_options
    from medbench.cli.parser import build_parser

    args = build_parser().parse_args(
        ["run", "--model", "m", "--tasks", "ceval_med", "--backend", "vllm-server"]
        + ["--base-url", "http://a:1/v1", "--base-url", "http://b:2/v1"]
    )
    assert backend_options(args)["base_url"] == "http://a:1/v1,http://b:2/v1"
    code = main(
        ["run", "--model", tiny_model, "--tasks", "huatuo26m", "--backend", "openai"]
        + ["--output", str(tmp_path), "--base-url", "http://a:1/v1", "--base-url", "http://b:2/v1"]
    )
    err = capsys.readouterr().err
    assert code != 0 and "takes one --base-url" in err and "Traceback" not in err


@pytest.mark.parametrize("fingerprint", [{"api": ["http://a/v1"]}, {"api": ["http://b/v1", "http://c/v1"]}])
def test_the_request_cache_belongs_to_the_model_not_to_where_it_is_served(fingerprint):
    from medbench.models.resolve import cache_key

    model = {"model_name": "m", "protocol": "completions"}
    assert cache_key({**model, **fingerprint}, {}) == cache_key(model, {})
