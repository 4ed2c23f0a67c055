"""The pairwise judge against real HTTP servers: exact rates, caching, resume, and clear errors."""

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medbench.core.errors import MedbenchError
from medbench.judge import JudgeConfig, combine, parse_verdict, run_judge
from medbench.judge.rubric import FLIP
from tests.servers import ScriptedChat

# item -> (verdict with A first, verdict with B first), as Answer1 relative to Answer2
SCRIPT = {1: ("Win", "Lose"), 2: ("Win", "Win"), 3: ("Tie", "Tie"), 4: ("Lose", "Win"), 5: ("Win", "???")}


def _run_folder(root, name, answers, ids=range(1, 6)):
    folder = root / name
    (folder / "samples").mkdir(parents=True)
    (folder / "config.json").write_text("{}", encoding="utf-8")
    lines = [
        json.dumps(
            {
                "doc_id": i - 1,
                "id": str(i),
                "question": f"问题{i}",
                "history": [],
                "reference": "",
                "raw": f"{answers}{i}",
            },
            ensure_ascii=False,
        )
        for i in ids
    ]
    (folder / "samples" / "huatuo26m.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(folder)


def _reply(prompt: str, script=SCRIPT) -> str:
    first = re.search(r"Answer1:\s*(\S+)", prompt).group(1)
    item = int(first[-1])
    return script[item][0 if first.startswith("A") else 1]


@pytest.fixture
def runs(tmp_path):
    return _run_folder(tmp_path, "run-a", "A答"), _run_folder(tmp_path, "run-b", "B答")


def _config(runs, url, tmp_path, **kw):
    return JudgeConfig(
        runs=list(runs),
        rubric="iimedgpt_pf",
        judge_model="judge",
        base_url=url,
        lang="en",
        max_retries=2,
        output=str(tmp_path / "out"),
        **kw,
    )


def test_win_tie_loss_consistency_and_cis_equal_hand_computed_values(runs, tmp_path):
    script = ScriptedChat([("A答5", "500-once")], reply=_reply)
    with script.serving() as url:
        folder, summary = run_judge(_config(runs, url, tmp_path))
        first_hits = sum(script.hits.values())
        again_folder, again = run_judge(_config(runs, url, tmp_path))
    dim = summary["dimensions"]["professionalism_fluency"]
    # item 1: win in both orders -> win; 2: win vs loss -> tie; 3: tie; 4: loss; 5: B-first unparseable
    assert dim["rates"] == {"win": 0.25, "tie": 0.5, "loss": 0.25}
    assert dim["judged"] == 4 and dim["parse_failures"] == 1 and dim["request_errors"] == 0
    assert dim["position_consistency"] == pytest.approx(3 / 4)
    low, high = dim["ci95"]["win"]
    assert 0.0 <= low <= 0.25 <= high <= 1.0
    # 10 prompts; the unparseable one asked once more; item 5's 500 retried by the client
    assert first_hits == 12 and summary["usage"]["requests"] == 11
    assert (
        sum(script.hits.values()) == first_hits and again["usage"]["requests"] == 0
    )  # the re-run asks nothing
    assert again["dimensions"] == summary["dimensions"]
    raw = [json.loads(x) for x in (folder.path / "requests.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(raw) == 10 and all(r["replies"] for r in raw)
    assert (folder.path / "judge.png").is_file() and "Position consistency" in (
        folder.path / "results.md"
    ).read_text()


def test_random_order_halves_the_requests_and_says_so(runs, tmp_path):
    with ScriptedChat([], reply=_reply).serving() as url:
        folder, summary = run_judge(_config(runs, url, tmp_path, order="random"))
    assert summary["dimensions"]["professionalism_fluency"]["items"] == 5
    assert len((folder.path / "requests.jsonl").read_text().splitlines()) == 5
    assert "half the cost" in (folder.path / "results.md").read_text()


def test_a_killed_judge_resumes_without_asking_any_finished_verdict_again(runs, tmp_path):
    parseable = {**SCRIPT, 5: ("Win", "Lose")}
    script = ScriptedChat([], reply=lambda prompt: _reply(prompt, parseable), delay=0.3)
    with script.serving() as url:
        cmd = [
            sys.executable,
            "-m",
            "medbench",
            "judge",
            "--runs",
            *runs,
            "--rubric",
            "zhongjing_spf",
            "--judge-model",
            "judge",
            "--base-url",
            url,
            "--lang",
            "en",
            "--concurrency",
            "1",
            "--output",
            str(tmp_path / "out"),
        ]
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        deadline = time.time() + 120
        while sum(script.hits.values()) < 6 and time.time() < deadline:
            time.sleep(0.05)
        proc.kill()
        proc.wait()
        from sqlitedict import SqliteDict

        with SqliteDict(str(tmp_path / "out" / ".judge-cache.sqlite")) as cache:
            finished = len(cache)
        assert 0 < finished < 30
        folder, summary = run_judge(
            JudgeConfig(
                runs=list(runs),
                rubric="zhongjing_spf",
                judge_model="judge",
                base_url=url,
                lang="en",
                output=str(tmp_path / "out"),
            )
        )
    total = 5 * 3 * 2  # items x dimensions x orders
    assert summary["usage"]["cached"] == finished
    assert summary["usage"]["requests"] == total - finished  # nothing finished is asked again
    assert sum(d["judged"] + d["parse_failures"] for d in summary["dimensions"].values()) == 15  # none lost


def test_mismatched_items_missing_samples_and_unknown_rubric_are_one_line_each(runs, tmp_path):
    other = _run_folder(tmp_path, "run-c", "C答", ids=range(2, 7))
    with pytest.raises(MedbenchError, match=r"item ids differ between the runs .*1 only in .*1 only in"):
        run_judge(_config([runs[0], other], "http://127.0.0.1:9/v1", tmp_path))
    (tmp_path / "empty").mkdir()
    with pytest.raises(MedbenchError, match="not a run folder with per-sample outputs"):
        run_judge(_config([runs[0], str(tmp_path / "empty")], "http://127.0.0.1:9/v1", tmp_path))
    with pytest.raises(MedbenchError, match="unknown rubric 'nope'"):
        run_judge(
            JudgeConfig(runs=list(runs), rubric="nope", judge_model="j", base_url="http://127.0.0.1:9/v1")
        )


def test_verdict_parsing_and_order_combination():
    labels = {"Win": "win", "Lose": "loss", "Tie": "tie"}
    assert parse_verdict("Result: Win", labels) == "win"
    assert parse_verdict("win", labels) == "win"
    assert parse_verdict("Winner is unclear; Tie", labels) == "tie"  # 'Winner' is not 'Win'
    assert parse_verdict("Win or Lose", labels) is None and parse_verdict("", labels) is None
    assert parse_verdict("回答1更好，胜", {"胜": "win", "负": "loss", "平": "tie"}) == "win"
    assert combine("win", "win") == "win" and combine("win", "loss") == "tie" and combine("win", None) is None


@pytest.mark.slow
def test_a_two_judge_jury_of_tiny_models_on_transformers_serve_judges_dialogue_items(
    tiny_model, served_tiny, shared_data, tmp_path
):
    from medbench.models.resolve import tiny_model_dir
    from medbench.models.serve import transformers_serve
    from medbench.models.tiny import TinyConfig
    from medbench.run.runner import RunConfig, run

    common = dict(
        tasks=["cmtmedqa"], limit=1, max_new_tokens=8, data_dir=str(shared_data), output=str(tmp_path)
    )
    run_a, _ = run(RunConfig(model=tiny_model, **common))
    run_b, _ = run(RunConfig(model=tiny_model, temperature=1.0, **common))
    config = JudgeConfig(
        runs=[str(run_a.path), str(run_b.path)],
        rubric="zhongjing_spf",  # the Zhongjing suite's rubric, on its dialogue task
        judge_model=tiny_model,
        base_url=served_tiny,
        concurrency=2,
        output=str(tmp_path / "judge"),
    )
    folder, summary = run_judge(config)
    # an item whose replies (the tiny model's 8 tokens) are empty is decided, or skipped, unsent
    first = summary["dimensions"]["safety"]
    decided = first["both_empty"] + first["empty_answer_lost"]
    assert summary["usage"]["requests"] <= 2 * 3 * 2 * (1 - decided), first  # asked at most twice each
    for path, who in ((run_a.path, "甲"), (run_b.path, "乙")):  # answers with text: the judges read them
        ids = [json.loads(x)["id"] for x in (path / "samples" / "cmtmedqa.jsonl").read_text().splitlines()]
        _replies(str(path), {i: f"{who}的回答{i}" for i in ids}, "cmtmedqa")
    other = str(tiny_model_dir(TinyConfig(seed=1)))  # a second tiny model, on its own server
    with transformers_serve(other) as other_url:
        jury = replace(config, judge_model=None, base_url=None)
        jury.judges = [f"first={tiny_model}@{served_tiny}", f"second={other}@{other_url},concurrency=2"]
        folder, summary = run_judge(jury)
    assert set(summary["judges"]) == {"first", "second"}
    for dim in ("safety", "professionalism", "fluency"):
        d = summary["dimensions"][dim]
        # every item in one bucket: the jury's verdict, or too few valid verdicts (a tiny judge's
        # replies rarely name a verdict)
        assert d["items"] == 1 and d["judged"] + d["too_few_judges"] == 1
        for judge in summary["judges"].values():
            own = judge["dimensions"][dim]
            assert own["judged"] + own["parse_failures"] + own["request_errors"] == 1
        assert "alpha" in summary["agreement"][dim]
    requests = [
        json.loads(x) for x in (folder.path / "requests.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert len(requests) == 2 * 3 * 2  # judges x dimensions x orders
    assert all(r["replies"] for r in requests)
    assert {r["judge"] for r in requests} == {"first", "second"}
    assert "患者：" in requests[0]["prompt"]  # the dialogue history is shown to the judges


def test_pointwise_rubric_rates_each_answer_and_compares_item_by_item(runs, tmp_path):
    def rate(prompt):
        answer = re.search(r"Answer to rate: (\S+)", prompt).group(1)
        if answer == "B答5":
            return "between 1 and 3, I give 2"  # names three scores: a parse failure
        return "3" if answer.startswith("A") else "Score: 1"

    with ScriptedChat([], reply=rate).serving() as url:
        folder, summary = run_judge(
            JudgeConfig(
                runs=list(runs),
                rubric="chimed_rubric",
                judge_model="j",
                base_url=url,
                lang="en",
                output=str(tmp_path / "out"),
            )
        )
    for dim in ("fluency", "completeness", "precision"):
        s = summary["dimensions"][dim]
        assert s["mean_score"] == {"a": 3.0, "b": 1.0}
        assert s["judged"] == 4 and s["parse_failures"] == 1 and s["rates"]["win"] == 1.0
    assert summary["usage"]["requests"] == 5 * 3 * 2 + 3  # the three unparseable ratings asked once more


def test_arena_ranks_three_models_by_bradley_terry(tmp_path):
    from medbench.judge.arena import bradley_terry, run_arena

    runs = [_run_folder(tmp_path, f"run-{m}", f"{m}答") for m in "ABC"]
    strength = {"A": 3, "B": 2, "C": 1}

    def prefer(prompt):
        first, second = (x[0] for x in re.findall(r"Answer[12]:(\S+)", prompt))
        return "Win" if strength[first] > strength[second] else "Lose"

    with ScriptedChat([], reply=prefer).serving() as url:
        folder, summary = run_arena(
            JudgeConfig(
                runs=runs,
                rubric="iimedgpt_pf",
                judge_model="j",
                base_url=url,
                lang="en",
                output=str(tmp_path / "out"),
            ),
            bootstrap=50,
        )
    assert [r["model"] for r in summary["ranking"]] == ["run-A", "run-B", "run-C"]
    ratings = [r["rating"] for r in summary["ranking"]]
    assert ratings[0] > ratings[1] > ratings[2]
    # every resample of a pair's games is the same (one side always wins): no interval, and no
    # order beyond doubt (5 of 5 is p = 0.0625 by the exact binomial): one shared rank
    assert [r["rank"] for r in summary["ranking"]] == [1, 1, 1]
    assert all(r["ci95"] is None or r["ci95"][0] <= r["rating"] <= r["ci95"][1] for r in summary["ranking"])
    assert set(summary["games"].values()) == {5}
    # equal records give equal strengths
    even = bradley_terry(2, [(0, 1, 1.0), (0, 1, 0.0)])
    assert even[0] == pytest.approx(even[1])


ZH = {"胜": "win", "负": "loss", "平": "tie"}


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("胜", "win"),
        ("负。", "loss"),
        ("结果：平", "tie"),
        ("回答1胜", "win"),
        ("回答1的诊断更准确，也更负责任。\n结论：胜", "win"),  # 负 inside 负责 is no verdict
        ("回答1专业水平更高", None),  # 平 inside 水平: no verdict named (asked again, then a parse failure)
        ("回答1更加专业和负责", None),  # 负 inside 负责
        ("两个回答水平相当，但回答2更全面。\n负", "loss"),
        ("胜或负都有可能", None),  # two outcomes on the deciding line
        ("**胜**", "win"),
        ("我认为回答1能胜任，因为……\n最终判断：平", "tie"),  # 胜 inside 胜任
    ],
)
def test_chinese_verdicts_follow_the_rubric_output_format_not_substrings(reply, expected):
    assert parse_verdict(reply, ZH) == expected


def test_the_final_line_decides_an_english_verdict():
    labels = {"Win": "win", "Lose": "loss", "Tie": "tie"}
    assert parse_verdict("A Tie would understate Answer1.\nWin", labels) == "win"
    assert parse_verdict("Answer1 wins clearly", labels) is None  # 'wins' is not the label


def _with_error(run: str, item: int) -> None:
    from pathlib import Path

    path = Path(run) / "samples" / "huatuo26m.jsonl"
    records = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    records[item - 1].update(raw="", error="APIConnectionError: Connection error.")
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")


def test_items_that_failed_in_either_run_are_excluded_and_counted(runs, tmp_path):
    _with_error(runs[0], 2)
    _with_error(runs[1], 4)
    script = ScriptedChat([], reply=lambda prompt: "Win")
    with script.serving() as url:
        folder, summary = run_judge(_config(runs, url, tmp_path))
    dim = summary["dimensions"]["professionalism_fluency"]
    assert summary["excluded_failed"] == 2 and summary["excluded_failed_ids"] == ["2", "4"]
    assert dim["items"] == 3 and script.hits["other"] == 6
    assert "2 item(s) not judged: their answer failed in a run" in (folder.path / "results.md").read_text()


def test_pointwise_counts_request_errors_and_excludes_failed_answers(runs, tmp_path):
    _with_error(runs[1], 5)
    script = ScriptedChat([("Answer to rate: A答1", "500")], reply="3")
    with script.serving() as url:
        folder, summary = run_judge(
            JudgeConfig(
                runs=list(runs),
                rubric="chimed_rubric",
                judge_model="j",
                base_url=url,
                lang="en",
                max_retries=1,
                output=str(tmp_path / "out"),
            )
        )
    assert summary["excluded_failed"] == 1
    for dim in ("fluency", "completeness", "precision"):
        s = summary["dimensions"][dim]
        assert (s["items"], s["judged"], s["request_errors"], s["parse_failures"]) == (4, 3, 1, 0)
    header = (folder.path / "results.md").read_text().splitlines()[0]
    assert "pointwise" in header and "random order" not in header


def test_a_judge_reply_that_is_not_a_chat_completion_is_a_request_error(runs, tmp_path):
    script = ScriptedChat([("Answer1:A答3", "empty-choices")], reply=_reply)
    with script.serving() as url:
        _, summary = run_judge(_config(runs, url, tmp_path, order="random"))
    assert summary["dimensions"]["professionalism_fluency"]["request_errors"] == 1


def test_judge_and_arena_take_a_timeout():
    from medbench.cli.parser import build_parser

    parser = build_parser()
    for command in ("judge", "arena"):
        args = parser.parse_args(
            [
                command,
                "--runs",
                "a",
                "b",
                "--rubric",
                "r",
                "--judge-model",
                "j",
                "--base-url",
                "u",
                "--timeout",
                "7",
            ]
        )
        assert args.timeout == 7.0


def test_reasoning_answers_and_a_reasoning_judge_are_read_after_their_thinking(runs, tmp_path):
    """The judge sees each answer without its thinking, and reads its own verdict after its thinking
    (the thinking argues the opposite, so reading it would flip every verdict)."""
    samples = Path(runs[0]) / "samples" / "huatuo26m.jsonl"
    records = [json.loads(x) for x in samples.read_text(encoding="utf-8").splitlines()]
    for r in records:
        r.update(raw=f"<think>秘密思考</think>{r['raw']}", thinking="秘密思考", answer=r["raw"])
    samples.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    prompts = []

    def judge(prompt: str) -> dict:
        prompts.append(prompt)
        a_first = re.search(r"Answer1:\s*(\S+)", prompt).group(1).startswith("A")
        verdict, other = ("Win", "Lose") if a_first else ("Lose", "Win")
        return {"reasoning_content": f"Answer 1 is worse: {other}", "content": verdict}

    with ScriptedChat([], reply=judge).serving() as url:
        _, summary = run_judge(_config(runs, url, tmp_path))
    assert summary["dimensions"]["professionalism_fluency"]["rates"] == {"win": 1.0, "tie": 0.0, "loss": 0.0}
    assert prompts and not any("秘密思考" in p for p in prompts)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("回答1：胜\n回答2：负", "win"),  # issue 24 case 3: read backwards (loss) before
        ("回答1：负\n回答2：胜", "loss"),
        ("回答2：胜", "loss"),  # answer 2's label, from answer 1's side
        ("回答1：胜，回答2：负", "win"),
        ("回答1：胜\n回答2：胜", None),  # both win: unreadable, never a verdict
        ("回答1：胜\n回答2：负\n结论：负", None),  # the ratings and the final label disagree
        ("回答1相对于回答2：胜", "win"),  # the rubric's own phrasing: answer 1's result
        ("回答2更全面。\n负", "loss"),
    ],
)
def test_a_reply_that_rates_each_answer_by_name_is_read_per_answer(reply, expected):
    assert parse_verdict(reply, ZH, ["回答1", "回答2"]) == expected


def test_an_english_reply_rating_both_answers_is_read_per_answer():
    labels = {"Win": "win", "Lose": "loss", "Tie": "tie"}
    assert parse_verdict("Answer1: Win\nAnswer2: Lose", labels) == "win"
    assert parse_verdict("Answer 1: Lose\nAnswer 2: Win", labels) == "loss"
    assert parse_verdict("Answer2: Win", labels) == "loss"


def _replies(run: str, items: dict[str, str], task: str = "huatuo26m") -> None:
    """Give some items of a run folder these replies (an empty one, only whitespace, or text)."""
    path = Path(run) / "samples" / f"{task}.jsonl"
    records = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    for r in records:
        r["raw"] = items.get(r["id"], r["raw"])
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")


def test_nothing_to_judge_is_never_sent(runs, tmp_path):
    # item 1: both answers empty; item 2: A's empty (A loses); item 3: B's only whitespace (A wins)
    _replies(runs[0], {"1": "", "2": ""})
    _replies(runs[1], {"1": " ", "3": " \n "})
    script = ScriptedChat([], reply=_reply)
    with script.serving() as url:
        folder, summary = run_judge(_config(runs, url, tmp_path))
    dim = summary["dimensions"]["professionalism_fluency"]
    # only items 4 and 5 are judged by the model: 2 items x 2 orders, every prompt with two answers
    sent = [json.loads(x) for x in (folder.path / "requests.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted({r["id"] for r in sent}) == ["4", "5"] and len(sent) == 4
    assert sum(script.hits.values()) == 4 + 1  # item 5's unparseable B-first verdict asked once more
    assert dim["both_empty"] == 1 and dim["empty_answer_lost"] == 2 and dim["parse_failures"] == 1
    # judged: item 2 (loss), item 3 (win) without a request, item 4 (loss); item 1 has no verdict
    assert dim["judged"] == 3 and dim["rates"] == {
        "win": pytest.approx(1 / 3),
        "tie": 0.0,
        "loss": pytest.approx(2 / 3),
    }
    verdicts = {
        v["id"]: v
        for v in map(json.loads, (folder.path / "verdicts.jsonl").read_text().splitlines())
        if v["dimension"] == "professionalism_fluency"
    }
    assert verdicts["1"]["decided"] == "both answers empty" and verdicts["1"]["final"] is None
    assert (verdicts["2"]["final"], verdicts["3"]["final"]) == ("loss", "win")
    assert "| 1 | 2 |" in (folder.path / "results.md").read_text(encoding="utf-8")  # both empty, empty lost


EN = {"Win": "win", "Lose": "loss", "Tie": "tie"}
# how judges name the two answers when they rate each one (issue 36): the rubric says 回答1/Answer1
ANSWER_FORMS = [
    ("回答1", "回答2"),
    ("回答一", "回答二"),
    ("回答A", "回答B"),
    ("回答 1", "回答 2"),
    ("答案1", "答案2"),
    ("答案一", "答案二"),
    ("第一个回答", "第二个回答"),
    ("助手1", "助手2"),
    ("模型A", "模型B"),
    ("**回答1**", "**回答2**"),
    ("Answer 1", "Answer 2"),
    ("Answer A", "Answer B"),
    ("answer one", "answer two"),
    ("First answer", "Second answer"),
    ("The first response", "The second response"),
    ("Response A", "Response B"),
    ("Assistant A", "Assistant B"),
    ("Model 1", "Model 2"),
    ("[[A]]", "[[B]]"),
]
SEPARATORS = ["：", ":", ": ", " ", "是", "的结果是", " is ", " = ", "：**", "（", " - "]
# verdict words: the rubrics' labels (read), and words that are no label of theirs (never read)
LABEL_WORDS = [
    (ZH, {"win": "胜", "loss": "负", "tie": "平"}),
    (EN, {"win": "Win", "loss": "Lose", "tie": "Tie"}),
]
OTHER_WORDS = [{"win": "好", "loss": "差", "tie": "一般"}, {"win": "better", "loss": "worse", "tie": "same"}]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    forms=st.sampled_from(ANSWER_FORMS),
    separator=st.sampled_from(SEPARATORS),
    words=st.sampled_from(LABEL_WORDS),
    outcome=st.sampled_from(["win", "loss", "tie"]),
    answer_2_first=st.booleans(),
    joiner=st.sampled_from(["\n", "，", "; ", " / ", "\n\n"]),
    preamble=st.sampled_from(["", "两个回答各有优点。\n", "Both answers address the question.\n"]),
    only_answer_2=st.booleans(),
)
def test_a_reply_rating_each_answer_is_read_by_answer_identity_in_any_labelling(
    forms, separator, words, outcome, answer_2_first, joiner, preamble, only_answer_2
):
    """Answer 1's outcome, whatever the answers are called, the separator, the order of the lines, or
    whether only answer 2 is rated: read right, never backwards (issue 36: 7 of 12 forms were)."""
    labels, word = words
    flip = {"win": "loss", "loss": "win", "tie": "tie"}
    first, second = f"{forms[0]}{separator}{word[outcome]}", f"{forms[1]}{separator}{word[flip[outcome]]}"
    lines = [second] if only_answer_2 else [second, first] if answer_2_first else [first, second]
    reply = preamble + joiner.join(lines)
    names = ["回答1", "回答2"] if labels is ZH else ["Answer1", "Answer2"]
    assert parse_verdict(reply, labels, names) == outcome
    assert parse_verdict(reply, labels) == outcome  # the rubric's names are not needed


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    forms=st.sampled_from(
        [
            *ANSWER_FORMS,
            ("Option A", "Option B"),
            ("候选1", "候选2"),
            ("方案一", "方案二"),
            ("A", "B"),
            ("甲", "乙"),
        ]
    ),
    separator=st.sampled_from(SEPARATORS),
    words=st.sampled_from([w for _, w in LABEL_WORDS] + OTHER_WORDS),
    outcome=st.sampled_from(["win", "loss"]),
    answer_2_first=st.booleans(),
)
def test_a_reply_rating_each_answer_is_never_read_backwards(forms, separator, words, outcome, answer_2_first):
    """Whatever names or words the judge uses, the reply is read for the right answer or counted
    unreadable: answers named in a way medbench does not know, or rated with words that are no
    rubric label, are never read from the last line's side."""
    flip = {"win": "loss", "loss": "win"}
    lines = [f"{forms[0]}{separator}{words[outcome]}", f"{forms[1]}{separator}{words[flip[outcome]]}"]
    reply = "\n".join(lines[::-1] if answer_2_first else lines)
    for labels in (ZH, EN):
        assert parse_verdict(reply, labels) in (outcome, None)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("回答一：胜\n回答二：负", "win"),  # issue 36: read backwards (loss) before
        ("回答二：胜", "loss"),
        ("回答一胜", "win"),
        ("回答二胜", "loss"),
        ("回答二：负，因为回答一更全面", "win"),  # answer 2's rating; answer 1 only mentioned
        ("“回答一”相对于“回答二”的结果：胜", "win"),  # the rubric's phrasing: answer 1's result
        ("回答1比回答2更好，胜", "win"),
        ("回答2更好，胜", None),  # answer 2 is better and "win": whose win? unreadable, never a guess
        ("负（回答2更专业）", None),  # answer 2 named in the label's sentence: its label?
        ("负。回答2更专业。", "loss"),  # the verdict, then why in a sentence of its own
        ("回答1优于回答2，胜", "win"),
        ("回答三：胜", None),  # an answer that is neither
        ("两个回答一致，平", "tie"),  # 一致 is no answer's name
        ("候选2：胜", None),  # an answer named in a way not known: never read as answer 1's
        ("A：胜\nB：负", None),
        ("结论：胜", "win"),
    ],
)
def test_chinese_ratings_by_any_answer_name_are_read_for_that_answer(reply, expected):
    assert parse_verdict(reply, ZH, ["回答1", "回答2"]) == expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("First answer: Win\nSecond answer: Lose", "win"),  # issue 36: read backwards (loss) before
        ("Second answer: Lose\nFirst answer: Win", "win"),
        ("Response B: Win", "loss"),
        ("[[B]]: Lose", "win"),
        ("Answer1 relative to Answer2: Win", "win"),
        ("The second answer is better. Win", None),
        ("Win. Answer 2 is less thorough.", "win"),
        ("Answer 2 is longer, but Answer 1 is more accurate: Win", "win"),
        ("Answer 1 is shorter, but Answer 2 is more accurate: Lose", None),  # whose loss?
        ("Option B: Win", None),
        ("A Tie would understate Answer1.\nWin", "win"),  # 'A' is an article here
    ],
)
def test_english_ratings_by_any_answer_name_are_read_for_that_answer(reply, expected):
    assert parse_verdict(reply, EN, ["Answer1", "Answer2"]) == expected


@pytest.mark.parametrize(
    ("reply", "labels", "expected"),
    [
        # a known comparison between the two names: the label is the first one's (X relative to Y)
        ("回答1相对回答2：负", ZH, "loss"),  # the Zhongjing rubric's wording without 于: read as win before
        ("回答1相较回答2：负", ZH, "loss"),
        ("回答2相对回答1：胜", ZH, "loss"),
        ("相对于回答1，回答2：胜", ZH, "loss"),  # compared with answer 1, answer 2 wins
        ("与回答2相比，回答1：负", ZH, "loss"),
        ("Answer1 in comparison with Answer2: Lose", EN, "loss"),  # read as win before
        ("Answer1 with respect to Answer2: Lose", EN, "loss"),
        ("Answer 2 relative to Answer 1: Win", EN, "loss"),
        ("回答1 & 回答2: Tie", EN, "tie"),  # a label given to both answers
        ("回答1和回答2：平", ZH, "tie"),
        # any other words between the names: whose label is it? unreadable, never a guess
        ("Answer1 loses to Answer2: Lose", EN, None),  # read as win before
        ("Answer1 is inferior to Answer2: Lose", EN, None),
        ("Answer1 falls short of Answer2: Lose", EN, None),
        ("Answer1 trails Answer2: Lose", EN, None),
        ("Answer1 underperforms Answer2: Lose", EN, None),
        ("Answer 1 is beaten by Answer 2: Lose", EN, None),
        ("Answer1 vis-a-vis Answer2: Lose", EN, None),
        ("Answer2 beats Answer1: Lose", EN, None),
        ("loses to Answer 2: Lose", EN, None),  # answer 1 left unnamed, answer 2 not its owner
        ("不是回答2：胜", ZH, None),
        ("相对于回答1：胜", ZH, None),  # relative to answer 1: an unnamed answer 2's win (read as win before)
        ("回答1输给回答2：负", ZH, None),
        ("回答1逊色于回答2：负", ZH, None),
        ("回答1落后于回答2：负", ZH, None),
        ("回答1之于回答2：负", ZH, None),
        ("回答1对阵回答2：负", ZH, None),
        ("回答1对回答2：负", ZH, None),
        ("回答1与回答2：负", ZH, None),  # a win or a loss given to both answers
        ("回答1，回答2：负", ZH, None),
        ("回答2输给回答1，负", ZH, None),
        ("Answer 2 is longer, but Answer 1 is more accurate: Win", EN, "win"),  # a new clause, one name
    ],
)
def test_a_label_after_two_answer_names_is_read_only_through_a_known_comparison(reply, labels, expected):
    """Issue 36: a relation the parser did not know between two names (loses to, 输给, 相对 without
    于) gave the label to the second name and read the reply backwards."""
    names = ["回答1", "回答2"] if "回答" in reply else ["Answer1", "Answer2"]
    assert parse_verdict(reply, labels, names) == expected


@pytest.mark.parametrize(
    ("reply", "labels"),
    [
        ("Win: Answer2", EN),  # all read as answer 1's win before
        ("胜：回答2", ZH),
        ("Win (Answer 2)", EN),
        ("Win for Answer 2", EN),
        ("Win - Answer 2", EN),
        ("Win, Answer 2 is better", EN),
        ("胜，回答2更好", ZH),
        ("负（回答2更专业）", ZH),
        ('{"result": "Win", "better": "Answer2"}', EN),
        ("Win! Answer 2", EN),  # a name alone in the next sentence
    ],
)
def test_a_label_before_an_answer_name_is_unreadable(reply, labels):
    """A label that an answer's name follows in its sentence may be that answer's: never read as
    answer 1's (a label then a new sentence about an answer still is: ``Win. Answer 2 is ...``)."""
    assert parse_verdict(reply, labels) is None


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("The second one: Win", "loss"),  # all read as answer 1's win before
        ("第二份：胜", "loss"),
        ("二号回答：胜", "loss"),
        ("2号：胜", "loss"),
        ("回答2号：胜", "loss"),
        ("The first one: Lose", "loss"),
        # named by where it stands or was last mentioned: which one? unreadable, never answer 1's
        ("后一个回答：胜", None),
        ("后一个：胜", None),
        ("后者：胜", None),
        ("后者胜", None),
        ("前者：负", None),
        ("下面的回答：胜", None),
        ("另一个回答：胜", None),
        ("the latter: Win", None),
        ("The former: Lose", None),
        ("The other one: Win", None),
    ],
)
def test_an_answer_named_by_its_position_is_read_for_it_or_unreadable(reply, expected):
    labels = ZH if re.search(r"[胜负]", reply) else EN
    assert parse_verdict(reply, labels) == expected


KNOWN_RELATIONS = [
    "相对于",
    "相对",
    "相较",
    "相比",
    "比",
    "对比",
    " vs ",
    " versus ",
    " relative to ",
    " compared with ",
    " in comparison to ",
    " against ",
]
OTHER_RELATIONS = [
    "输给",
    "逊色于",
    "弱于",
    "之于",
    "对",
    "对阵",
    "与",
    "和",
    "，",
    ", ",
    " loses to ",
    " beats ",
    " is inferior to ",
    " trails ",
    " w/ ",
    " and ",
    " then ",
]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    forms=st.sampled_from(ANSWER_FORMS),
    relation=st.sampled_from(KNOWN_RELATIONS + OTHER_RELATIONS),
    separator=st.sampled_from(SEPARATORS),
    words=st.sampled_from(LABEL_WORDS),
    outcome=st.sampled_from(["win", "loss", "tie"]),
    answer_2_first=st.booleans(),
)
def test_a_label_after_two_answer_names_is_never_read_backwards(
    forms, relation, separator, words, outcome, answer_2_first
):
    """``X <relation> Y: label``: through a known comparison the label is X's and is read so; through
    any other words it may be either answer's, so it is read only where both readings agree (a tie
    given to both) and is unreadable otherwise."""
    labels, word = words
    first, second = forms[::-1] if answer_2_first else forms
    reply = f"{first}{relation}{second}{separator}{word[outcome]}"
    as_first = FLIP[outcome] if answer_2_first else outcome  # answer 1's outcome if the label is X's
    readings = {as_first} if relation in KNOWN_RELATIONS else {as_first} & {FLIP[as_first]}
    assert parse_verdict(reply, labels) in readings | {None}
    if relation in KNOWN_RELATIONS and separator.strip() in ("：", ":", "是", "的结果是", "is", "="):
        assert parse_verdict(reply, labels) == as_first


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    forms=st.sampled_from(ANSWER_FORMS),
    separator=st.sampled_from(["：", ": ", " (", "（", " for ", "，", ", ", " - ", " goes to ", " = "]),
    words=st.sampled_from(LABEL_WORDS),
    outcome=st.sampled_from(["win", "loss", "tie"]),
    answer_2=st.booleans(),
)
def test_a_label_before_an_answer_name_is_never_read_backwards(forms, separator, words, outcome, answer_2):
    """``label: Y`` may be Y's label or answer 1's (the rubric's format): read only where both agree."""
    labels, word = words
    reply = f"{word[outcome]}{separator}{forms[1] if answer_2 else forms[0]}"
    as_named = FLIP[outcome] if answer_2 else outcome
    assert parse_verdict(reply, labels) in ({as_named} & {outcome}) | {None}


def test_a_judge_that_prefers_a_in_the_zhongjing_rubrics_words_shows_a_winning(runs, tmp_path):
    """Issue 36: a judge writing the rubric's own phrase without 于 (回答1相对回答2：胜) and always
    preferring A showed A losing 100%, exit 0."""

    def prefers_a(prompt: str) -> str:
        a_first = re.search(r"回答1：\s*(\S+)", prompt).group(1).startswith("A")
        return f"回答1相对回答2：{'胜' if a_first else '负'}"

    with ScriptedChat([], reply=prefers_a).serving() as url:
        _, summary = run_judge(replace(_config(runs, url, tmp_path), rubric="zhongjing_spf", lang="zh"))
    assert {name: dim["rates"]["win"] for name, dim in summary["dimensions"].items()} == {
        "safety": 1.0,
        "professionalism": 1.0,
        "fluency": 1.0,
    }


def test_a_judge_that_always_prefers_a_and_rates_each_answer_shows_a_winning(runs, tmp_path):
    """Issue 36: a judge naming the answers its own way (First answer / Second answer) was read
    backwards end to end: "A loses 100%, position consistency 100%", exit 0."""

    def prefers_a(prompt: str) -> str:
        a_first = re.search(r"Answer1:\s*(\S+)", prompt).group(1).startswith("A")
        first, second = ("Win", "Lose") if a_first else ("Lose", "Win")
        return f"First answer: {first}\nSecond answer: {second}"

    with ScriptedChat([], reply=prefers_a).serving() as url:
        _, summary = run_judge(_config(runs, url, tmp_path))
    dim = summary["dimensions"]["professionalism_fluency"]
    assert dim["rates"]["win"] == 1.0 and dim["position_consistency"] == 1.0 and dim["judged"] == 5


def test_a_judge_whose_every_verdict_is_unreadable_says_so_and_exits_3(runs, tmp_path, capsys):
    """Issue 36: a judge that never answered in the rubric's format exited 0 with an empty table."""
    from medbench.cli.main import main

    out = tmp_path / "out"
    args = ["judge", "--runs", *runs, "--rubric", "iimedgpt_pf", "--judge-model", "j", "--lang", "en"]
    with ScriptedChat([], reply="Both answers have merit.").serving() as url:
        status = main([*args, "--base-url", url, "--output", str(out)])
    assert status == 3
    err = capsys.readouterr().err
    assert "judge incomplete: the judge gave no readable verdict on professionalism_fluency (5 asked" in err
    results = next(out.glob("*judge-*/results.md")).read_text(encoding="utf-8")
    assert results.startswith(
        "WARNING: the judge: verdicts unreadable: 100% on professionalism_fluency (5 of 5 items asked)"
    )


def test_a_judge_with_mostly_unreadable_verdicts_warns_in_one_line(runs, tmp_path):
    script = {1: ("Win", "Lose"), 2: ("???", "Win"), 3: ("Tie", "Tie"), 4: ("Lose", "!!"), 5: ("Win", "Lose")}
    with ScriptedChat([], reply=lambda p: _reply(p, script)).serving() as url:
        folder, summary = run_judge(_config(runs, url, tmp_path))
    assert summary["warnings"] == [
        "the judge: verdicts unreadable: 40% on professionalism_fluency (2 of 5 items asked); its replies "
        "are in requests.jsonl: a judge that does not answer in the rubric's format needs another model "
        "(or --lang)"
    ]
    assert (
        (folder.path / "results.md")
        .read_text(encoding="utf-8")
        .startswith("WARNING: the judge: verdicts unreadable: 40%")
    )
