"""A cache holds what medbench wrote, and is read like user input (issue 24, case 2): a value of the
wrong shape or outside what its producer can emit is a counted miss, asked again -- never an answer,
a verdict or a traceback; a file that is not SQLite is set aside and the work redone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lm_eval.api.instance import Instance
from lm_eval.api.model import LM

from medbench.core.paths import SAMPLES_DIR
from medbench.judge import JudgeConfig, run_judge
from medbench.models.requestcache import RequestCache, open_cache, valid_value
from medbench.run.runner import RunConfig, run
from tests.servers import ScriptedChat

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def _config(model, out):
    return RunConfig(model=model, tasks=["ceval_med"], data_dir=str(SAMPLES_DIR), limit=2, output=str(out))


def _calls(folder) -> dict:
    return json.loads((folder.path / "calls.json").read_text())


def _plant(cache: Path, value) -> int:
    db = open_cache(str(cache))
    keys = list(db.keys())
    for key in keys:
        db[key] = value
    db.commit()
    db.close()
    return len(keys)


@pytest.mark.parametrize("planted", [None, "答案：B", 7, [5.0, True], [-1.0], {"x": 1}])
def test_planted_request_cache_values_are_asked_again_and_counted(tiny_model, tmp_path, planted):
    first, _ = run(_config(tiny_model, tmp_path))
    (cache,) = (tmp_path / ".cache").glob("*.requests.sqlite")
    assert _plant(cache, planted) == 24
    again, _ = run(_config(tiny_model, tmp_path))
    calls = _calls(again)
    assert calls["model_requests"] == {"loglikelihood": 24}
    assert calls["cache_rejected"] == {"loglikelihood": 24}
    assert (first.path / "metrics.json").read_text() == (again.path / "metrics.json").read_text()


@pytest.mark.parametrize("damage", ["not sqlite", "truncated"])
def test_a_cache_file_sqlite_cannot_read_is_set_aside_and_the_work_redone(
    tiny_model, tmp_path, damage, caplog
):
    first, _ = run(_config(tiny_model, tmp_path))
    (cache,) = (tmp_path / ".cache").glob("*.requests.sqlite")
    if damage == "not sqlite":
        cache.write_bytes(b"this is no database " * 100)
    else:
        cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 2])
    again, _ = run(_config(tiny_model, tmp_path))
    assert _calls(again)["model_requests"] == {"loglikelihood": 24}
    assert (first.path / "metrics.json").read_text() == (again.path / "metrics.json").read_text()
    assert list((tmp_path / ".cache").glob("*.unreadable-*")), "the damaged file is kept aside for a look"
    assert "not a readable SQLite file" in caplog.text


class _Answers(LM):
    """A model that answers every request the same way (what a cached value must look like)."""

    def loglikelihood(self, requests):
        return [(-1.5, False) for _ in requests]

    def loglikelihood_rolling(self, requests):
        return [-3.0 for _ in requests]

    def generate_until(self, requests):
        return ["答案：A" for _ in requests]


def _requests(kind: str) -> list[Instance]:
    def args(i: int) -> tuple:
        if kind == "generate_until":
            return (f"问题{i}", {"until": ["\n"]})
        return (f"全文{i}",) if kind == "loglikelihood_rolling" else (f"问题{i}", " A")

    return [Instance(kind, {}, args(i), i) for i in range(3)]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["loglikelihood", "loglikelihood_rolling", "generate_until"]), value=JSON)
def test_any_json_in_the_request_cache_is_an_answer_of_the_right_shape_or_a_counted_miss(
    tmp_path, kind, value
):
    path = tmp_path / f"{kind}.sqlite"
    path.unlink(missing_ok=True)
    cache = RequestCache(_Answers(), str(path))
    requests = _requests(kind)
    cache.db[cache.key(kind, requests[0].args)] = value
    answers = getattr(cache, kind)(requests)
    cache.close()
    assert all(valid_value(kind, json.loads(json.dumps(a))) for a in answers)
    fresh = getattr(_Answers(), kind)(requests[:1])[0]
    assert answers[0] == value or answers[0] == fresh
    assert cache.calls.rejected[kind] == (0 if valid_value(kind, value) else 1)


# --- the judge's cache ----------------------------------------------------------------------------


def _run_folder(root: Path, name: str, answer: str) -> str:
    folder = root / name
    if folder.exists():
        return str(folder)
    (folder / "samples").mkdir(parents=True)
    (folder / "config.json").write_text("{}", encoding="utf-8")
    lines = [
        json.dumps(
            {"doc_id": i, "id": str(i), "question": f"问题{i}", "raw": f"{answer}{i}"}, ensure_ascii=False
        )
        for i in range(3)
    ]
    (folder / "samples" / "huatuo26m.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(folder)


def _judge(tmp_path: Path, url: str, rubric: str) -> dict:
    runs = [_run_folder(tmp_path, "a", "甲答"), _run_folder(tmp_path, "b", "乙答")]
    config = JudgeConfig(
        runs=runs,
        rubric=rubric,
        judge_model="judge",
        base_url=url,
        max_retries=0,
        output=str(tmp_path / "out"),
    )
    return run_judge(config)[1]


@pytest.mark.parametrize(
    ("rubric", "reply", "planted"),
    [
        ("chimed_rubric", "评分：2", {"replies": ["评分：2"], "verdict": "99", "error": None}),
        ("chimed_rubric", "评分：2", {"replies": ["评分：99"], "verdict": "99", "error": None}),
        ("iimedgpt_pf", "胜", {"replies": ["胜"], "verdict": "banana", "error": None}),
        ("iimedgpt_pf", "胜", {"replies": [1], "verdict": "win", "error": None}),
        ("iimedgpt_pf", "胜", [1, 2]),
    ],
)
def test_a_planted_judge_verdict_is_never_a_verdict(tmp_path, rubric, reply, planted):
    server = ScriptedChat([], reply=reply)
    with server.serving() as url:
        honest = _judge(tmp_path, url, rubric)
        asked = server.total
        _plant(tmp_path / "out" / ".judge-cache.sqlite", planted)
        again = _judge(tmp_path, url, rubric)
    assert server.total == 2 * asked  # every planted entry asked again
    assert again["usage"]["cache_rejected"] == asked
    assert again["dimensions"] == honest["dimensions"]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=JSON)
def test_any_json_in_the_judge_cache_is_a_verdict_the_reply_gives_or_a_miss(tmp_path_factory, value):
    tmp_path = tmp_path_factory.mktemp("judge")
    with ScriptedChat([], reply="评分：3").serving() as url:
        honest = _judge(tmp_path, url, "chimed_rubric")
        _plant(tmp_path / "out" / ".judge-cache.sqlite", value)
        again = _judge(tmp_path, url, "chimed_rubric")
    assert again["dimensions"] == honest["dimensions"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=JSON)
def test_any_json_in_the_extractor_cache_is_a_reading_or_a_counted_miss(tmp_path_factory, value):
    from medbench.scoring.llm_extract import Extractor

    cache = tmp_path_factory.mktemp("extractor") / "llm-extractor.sqlite"
    doc = {"question": "哪个器官？", "options": [["A", "胃"], ["B", "肝"]]}
    with ScriptedChat([], reply="B").serving() as url:
        honest = Extractor("x", url, str(cache)).letters([("第二个", doc)])
        _plant(cache, value)
        reader = Extractor("x", url, str(cache))
        again = reader.letters([("第二个", doc)])
    assert honest == ["B"]
    assert again == ["B"] or (isinstance(value, str) and again == [reader.read(value, ["A", "B"])])
    assert reader.usage.cache_rejected == (0 if isinstance(value, str) else 1)


def test_two_judges_served_under_one_name_share_no_verdicts(tmp_path):
    """issue 24, case 1, for the judge: its cache was keyed on the judge's name alone."""
    first, second = ScriptedChat([], reply="胜"), ScriptedChat([], reply="负")
    first.models = [{"id": "judge", "root": "/judges/a"}]
    second.models = [{"id": "judge", "root": "/judges/b"}]
    with first.serving() as url:
        _judge(tmp_path, url, "iimedgpt_pf")
    with second.serving() as url:
        b = _judge(tmp_path, url, "iimedgpt_pf")
    assert first.total == second.total > 0 and b["usage"]["cached"] == 0  # every verdict asked again
    configs = [json.loads(p.read_text()) for p in sorted((tmp_path / "out").glob("*/config.json"))]
    assert [c["judge_served"]["root"] for c in configs] == ["/judges/a", "/judges/b"]


def test_two_extractors_served_under_one_name_share_no_readings(tmp_path):
    from medbench.scoring.llm_extract import Extractor

    doc = {"question": "哪个器官？", "options": [["A", "胃"], ["B", "肝"]]}
    first, second = ScriptedChat([], reply="A"), ScriptedChat([], reply="B")
    first.models, second.models = [{"id": "x", "root": "/a"}], [{"id": "x", "root": "/b"}]
    cache = tmp_path / "llm-extractor.sqlite"
    with first.serving() as url:
        assert Extractor("x", url, str(cache)).letters([("第二个", doc)]) == ["A"]
    with second.serving() as url:
        assert Extractor("x", url, str(cache)).letters([("第二个", doc)]) == ["B"]  # not A from the cache
