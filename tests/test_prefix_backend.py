"""The prefix-cached backend gives the plain hf backend's answers, only faster (speed: benchmarks/)."""

import pytest
from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM

from medbench.backends.prefix_hf import PrefixCachedHFLM, prefix_groups
from medbench.paths import SAMPLES_DIR
from medbench.runner import RunConfig, run, task_manager


@pytest.fixture(scope="module")
def backends(tiny_model):
    return (
        HFLM(pretrained=tiny_model, device="cpu", batch_size=4),
        PrefixCachedHFLM(pretrained=tiny_model, device="cpu", batch_size=4),
    )


def _instances(requests):
    return [
        Instance(request_type="loglikelihood", doc={}, arguments=r, idx=i, metadata=("t", i, 1))
        for i, r in enumerate(requests)
    ]


def test_mixed_subjects_long_questions_unshared_and_multi_token_requests_match(backends, shared_data):
    plain, fast = backends
    manager = task_manager({"data_dir": str(shared_data)})
    tasks = manager.load(["cmmlu_med_anatomy", "ceval_med_physician", "medqa_mcmle"])["tasks"]
    instances = []
    for task in tasks.values():  # three subjects, three different few-shot blocks, in one request list
        task.build_all_requests(limit=6, rank=0, world_size=1)
        instances += task.instances
    shared = "以下是中国关于医师资格考试的单项选择题。\n\n" * 3
    extra = _instances(
        [
            (shared + "一个比其他问题长得多的问题：" + "很长的病史描述，" * 60 + "\n答案：", "A"),
            (shared + "短问题\n答案：", "B"),
            ("一个与其他请求没有共同前缀的上下文", "C"),  # no shared prefix: plain path
            (shared + "短问题\n答案：", "正确答案是甲"),  # multi-token continuation: plain path
        ]
    )
    requests = instances + extra
    expected = plain.loglikelihood(requests)
    got = fast.loglikelihood(requests)
    assert [g for _, g in got] == [g for _, g in expected]
    assert max(abs(a - b) for (a, _), (b, _) in zip(got, expected, strict=True)) <= 1e-3
    by_doc: dict = {}
    for inst, (ll, _) in zip(instances, got, strict=False):
        by_doc.setdefault(inst.metadata[:2], []).append(ll)
    plain_by_doc: dict = {}
    for inst, (ll, _) in zip(instances, expected, strict=False):
        plain_by_doc.setdefault(inst.metadata[:2], []).append(ll)
    for key, lls in by_doc.items():  # identical predictions item by item
        assert lls.index(max(lls)) == plain_by_doc[key].index(max(plain_by_doc[key]))


def test_prefix_groups_share_prefixes_and_leave_each_member_its_own_token():
    a, b, c = tuple(range(40)), tuple(range(38)) + (99, 98), (7,) * 30
    groups = prefix_groups([a, b, c], min_shared=16)
    shared = [g for g in groups if len(g[1]) > 1]
    assert shared == [(38, [0, 1])]
    assert all(length < min(len(x) for x in (a, b)) for length, _ in shared)


def test_hf_fast_backend_runs_from_the_cli_with_the_same_scores(tiny_model, tmp_path):
    common = dict(tasks=["cmmlu_med", "ceval_med"], data_dir=str(SAMPLES_DIR))
    _, plain = run(RunConfig(model=tiny_model, output=str(tmp_path / "a"), **common))
    _, fast = run(RunConfig(model=tiny_model, backend="hf-fast", output=str(tmp_path / "b"), **common))
    assert [(s.task, s.metric, round(s.value, 6)) for s in plain] == [
        (s.task, s.metric, round(s.value, 6)) for s in fast
    ]
