"""A failed request never changes a score unnoticed (issue 13, cases 1-2 and the API crashes).

The server is real (HTTP on loopback) and answers every MedQA sample item with its gold letter, so a
fault-free run scores acc = 1.0: any failed item scored as a wrong answer would show at once.
"""

import json

import pytest

from medbench.cli.main import main
from medbench.core.paths import SAMPLES_DIR
from medbench.run.runner import RunConfig, run
from tests.servers import ScriptedChat

#: a phrase only each MedQA sample test question has, and its gold letter
GOLD = {
    "转移性右下腹痛": "A",
    "小细胞低色素": "B",
    "大量饮酒后上腹剧痛": "A",
    "午后低热、盗汗": "A",
    "妊娠32周": "B",
}


def gold_reply(prompt: str) -> str:
    """The gold answer of the test question in the prompt (its last question: shots come first)."""
    last = max(GOLD, key=lambda needle: prompt.rfind(needle))
    return f"答案：{GOLD[last]}"


def server(rules=()) -> ScriptedChat:
    return ScriptedChat(list(rules), reply=gold_reply)


def config(url: str, output, tasks=("medqa_mcmle",), options: dict | None = None, **settings) -> RunConfig:
    """A run against the scripted server; ``options``: more openai backend options."""
    defaults = {"model_name": "scripted", "base_url": url, "max_retries": 1, "timeout": 1.0}
    return RunConfig(
        model="scripted",
        tasks=list(tasks),
        backend="openai",
        data_dir=str(SAMPLES_DIR),
        output=str(output),
        backend_options={**defaults, **(options or {})},
        **settings,
    )


def acc(scores):
    (score,) = [s for s in scores if s.metric == "acc"]
    return score


def samples(folder):
    return [
        json.loads(x) for x in (folder.path / "samples" / "medqa_mcmle_gen.jsonl").read_text().splitlines()
    ]


def status(folder):
    return json.loads((folder.path / "status.json").read_text())


def test_a_failed_item_is_left_out_of_the_score_counted_and_the_run_marked_incomplete(tmp_path):
    with server([("妊娠32周", "500")]).serving() as url:
        folder, scores = run(config(url, tmp_path))
    score = acc(scores)
    assert (score.value, score.n, score.n_failed) == (1.0, 4, 1)  # not 0.8 over 5
    assert status(folder) == {
        "complete": False,
        "n_failed": 1,
        "reason": "1 request(s) failed after retries; re-run the command",
    }
    metrics = json.loads((folder.path / "metrics.json").read_text())
    assert {(m["metric"], m["n"], m["n_failed"]) for m in metrics} >= {("acc", 4, 1)}
    table = (folder.path / "results.md").read_text()
    assert table.startswith("INCOMPLETE RUN: 1 item(s) failed")
    assert "| medqa_mcmle_gen | 4 | 1 failed | 100.00 [51.01, 100.00] |" in table  # Wilson, 4 of 4
    assert [("error" in s) for s in samples(folder)] == [False] * 4 + [True]


def test_when_every_request_fails_there_is_no_score_only_the_count(tmp_path):
    with server([("答案", "500")]).serving() as url:
        folder, scores = run(config(url, tmp_path))
    score = acc(scores)
    assert (score.value, score.n, score.n_failed) == (None, 0, 5)
    assert "| medqa_mcmle_gen | 0 | 5 failed | n/a |" in (folder.path / "results.md").read_text()


def test_the_cli_exits_3_while_a_run_is_incomplete_and_0_once_a_rerun_fills_it_in(tmp_path, capsys):
    script = server([("妊娠32周", "500")])
    with script.serving() as url:
        argv = [
            "run",
            "--backend",
            "openai",
            "--base-url",
            url,
            "--model-name",
            "scripted",
            "--tasks",
            "medqa_mcmle",
            "--data-dir",
            str(SAMPLES_DIR),
            "--output",
            str(tmp_path),
            "--max-retries",
            "1",
        ]
        assert main(argv) == 3
        assert "run incomplete: 1 request(s) failed" in capsys.readouterr().err
        script.healed = True
        assert main(argv) == 0


def test_an_interruption_between_generation_and_scoring_caches_no_failure(tmp_path, monkeypatch):
    from lm_eval.api.task import ConfigurableTask as Task

    original = Task.apply_filters
    state = {"interrupted": False}

    def interrupt_once(self, *args, **kwargs):  # every request has been answered by now
        if not state["interrupted"]:
            state["interrupted"] = True
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Task, "apply_filters", interrupt_once)
    script = server([("妊娠32周", "500")])
    with script.serving() as url:
        with pytest.raises(KeyboardInterrupt):
            run(config(url, tmp_path / "runs"))
        asked = script.hits["妊娠32周"]
        script.healed = True
        folder, scores = run(config(url, tmp_path / "runs"))
    assert script.hits["妊娠32周"] == asked + 1  # asked again, not answered "" from the cache
    assert json.loads((folder.path / "calls.json").read_text())["model_requests"]["generate_until"] == 1
    assert (acc(scores).value, acc(scores).n, acc(scores).n_failed) == (1.0, 5, 0)
    assert all(s["raw"] for s in samples(folder))


@pytest.mark.parametrize("fault", ["bad-json", "empty-choices", "no-choices", "wrong-schema", "html"])
def test_a_reply_that_is_not_a_chat_completion_is_retried_then_a_failed_item(tmp_path, fault):
    script = server([("妊娠32周", fault)])
    with script.serving() as url:
        folder, scores = run(config(url, tmp_path))
    assert script.hits["妊娠32周"] == 2  # the first answer and one retry (max_retries=1)
    (failure,) = [json.loads(x) for x in (folder.path / "failures.jsonl").read_text().splitlines()]
    assert failure["doc_id"] == 4 and failure["error"]
    assert (acc(scores).value, acc(scores).n_failed) == (1.0, 1)


def test_a_huge_reply_is_cut_and_the_cut_recorded(tmp_path):
    with server([("妊娠32周", "huge")]).serving() as url:
        folder, scores = run(config(url, tmp_path, options={"max_reply_chars": 1000}))
    assert len(samples(folder)[4]["raw"]) == 1000
    calls = json.loads((folder.path / "calls.json").read_text())
    assert calls["api_usage"]["truncated"] == [{"task": "medqa_mcmle_gen", "doc_id": 4, "kept_chars": 1000}]
    assert acc(scores).value == 1.0


def test_the_api_key_echoed_in_an_error_body_is_never_written(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-echoed-back")
    script = server([("妊娠32周", "401-echo")])
    with script.serving() as url:
        folder, _ = run(config(url, tmp_path))
    sent = [
        value for h in script.seen_headers for name, value in h.items() if name.lower() == "authorization"
    ]
    assert any("sk-secret-echoed-back" in value for value in sent)  # the server did echo it back
    failure = (folder.path / "failures.jsonl").read_text()
    assert "[redacted]" in failure
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert b"sk-secret-echoed-back" not in path.read_bytes(), path


def test_a_sampled_run_resumes_from_its_cache_keyed_on_seed_and_repeat(tmp_path):
    import itertools

    draws = itertools.cycle("ABCD")  # a server that samples: each request may answer differently
    script = ScriptedChat([], reply=lambda prompt: f"答案：{next(draws)}")
    with script.serving() as url:
        first, _ = run(config(url, tmp_path, temperature=1.0))
        again, _ = run(config(url, tmp_path, temperature=1.0))
        other_seed, _ = run(config(url, tmp_path, temperature=1.0, seed=99))

    def calls(folder):
        return json.loads((folder.path / "calls.json").read_text())["model_requests"].get("generate_until", 0)

    assert (calls(first), calls(again), calls(other_seed)) == (5, 0, 5)
    assert [s["raw"] for s in samples(again)] == [s["raw"] for s in samples(first)]


def test_a_run_whose_replies_name_no_option_warns_in_one_line(tmp_path, caplog):
    with ScriptedChat([], reply="我不确定。").serving() as url:
        folder, scores = run(config(url, tmp_path))
    line = "medqa_mcmle_gen: 100% of 5 replies named no option (parse_fail_rate)"
    assert line in caplog.text
    assert (folder.path / "results.md").read_text().startswith(f"WARNING: {line}")


def test_a_subject_whose_every_item_failed_leaves_its_group_without_a_score(tmp_path):
    physician = [
        "小儿腹泻最重要的治疗是",
        "肺结核的主要传播途径是",
        "小剂量阿司匹林的主要作用是",
        "乙型肝炎的主要传播途径是",
    ]
    with server([(q, "500") for q in physician]).serving() as url:
        folder, scores = run(config(url, tmp_path, tasks=["ceval_med"]))
    acc = {(s.task, s.convention.split(" ")[0]): s for s in scores if s.metric == "acc"}
    assert (acc[("ceval_med_physician_gen", "")].value, acc[("ceval_med_physician_gen", "")].n_failed) == (
        None,
        4,
    )
    for convention in ("micro", "macro"):  # the group row stays, says why it has no value
        group = acc[("ceval_med_gen", convention)]
        assert (group.value, group.n, group.n_failed) == (None, 8, 4)
    assert acc[("ceval_med_basic_medicine_gen", "")].value is not None


def test_when_every_request_fails_alike_the_cause_is_said_in_one_line(tmp_path):
    """issue 24, case 17: only failures.jsonl named the cause."""
    import logging

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # medbench's own logger, whatever an earlier CLI call set up
    logging.getLogger("medbench").addHandler(handler)
    try:
        with server([("", "500")]).serving() as url:
            run(config(url, tmp_path))
    finally:
        logging.getLogger("medbench").removeHandler(handler)
    (line,) = [r.getMessage() for r in records if "failed after retries" in r.getMessage()]
    assert line.startswith("5 item(s) failed after retries -- every one alike: ") and "500" in line


def test_many_tasks_with_one_problem_get_one_warning_with_advice_that_fits_them():
    """Issue 39: the demo repeated one piece of advice seven times, and advised --mode loglik for
    generation-only tasks (huatuo26m, cmexam_explain)."""
    from medbench.analysis.summary import Score
    from medbench.run.checks import warn_unusable

    scores = [Score(f"ceval_med_{s}", "parse_fail_rate", 1.0, 3) for s in ("a", "b", "c", "d", "e", "f", "g")]
    scores.append(Score("ceval_med", "parse_fail_rate", 1.0, 21, convention="micro (item-weighted)"))
    scores += [Score("huatuo26m", "empty_rate", 0.9, 10), Score("cmexam_explain", "empty_rate", 0.5, 4)]
    mc, generation = warn_unusable(scores)
    assert mc.startswith("7 tasks (ceval_med_a: 100% of 3; ") and "and 2 more task(s)" in mc
    assert "ceval_med:" not in mc and "--mode loglik" in mc
    assert generation.startswith(
        "2 tasks (huatuo26m: 90% of 10; cmexam_explain: 50% of 4): replies were empty"
    )
    assert "--mode loglik" not in generation
