"""Reasoning models: thinking is removed before anything is extracted or scored, whatever form it
arrives in; a reply whose thinking never ended is counted on its own and never scored from the
thinking; --thinking on refuses log-likelihood scoring and leaves room to think."""

import json

import pytest

from medbench.cli.main import main
from medbench.models import thinking
from medbench.scoring.extract import extract_choice
from tests.helpers import write_ceval_subject
from tests.servers import ScriptedChat

#: the scripted replies, one per question: (reply, the answer letters it commits to)
CASES = {
    "paired tags": ("<think>先想：答案是A？\n\n不对，再想想。</think>答案：C", "C"),
    "closing tag only": ("先想一下，答案是A吗？</think>答案：B", "B"),
    "reasoning_content": ({"reasoning_content": "答案是D吧", "content": "答案：C"}, "C"),
    "cut off in the field": (
        {"reasoning_content": "答案是A……还要再想", "content": None, "finish_reason": "length"},
        thinking.TRUNCATED,
    ),
    "cut off inline": ("<think>答案是A……还要再想", thinking.TRUNCATED),
    "self-correction": ("答案是A。……不对，答案是C", "C"),
    "boxed": ("所以选 \\boxed{B}", "B"),
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>a</think>答案：C", thinking.Reply("a", "答案：C", False)),
        ("a</think>答案：C", thinking.Reply("a", "答案：C", False)),
        ("<think>a</think>b<think>c</think>答案：D", thinking.Reply("a</think>b<think>c", "答案：D", False)),
        ("<think>a", thinking.Reply("a", "", True)),
        ("答案：C", thinking.Reply(None, "答案：C", False)),
    ],
)
def test_thinking_and_answer_are_split_whatever_the_form(text, expected):
    assert thinking.split(text) == expected


def test_a_servers_reasoning_field_becomes_the_tagged_form():
    assert thinking.tagged("想", "答案：C", cut_off=False) == "<think>想</think>答案：C"
    assert thinking.tagged("想", "", cut_off=True) == "<think>想"  # cut off before any answer
    assert thinking.tagged("", "答案：C", cut_off=False) == "答案：C"


def test_the_markers_are_the_models():
    tags = thinking.parse_tags("<reasoning>,</reasoning>")
    assert thinking.split("<reasoning>x</reasoning>答案：B", tags).answer == "答案：B"
    assert thinking.split("<think>x</think>答案：B", tags).thinking is None


def test_a_runs_think_tags_reach_the_scoring_hooks_and_the_samples(tmp_path):
    """Issue 37: the tags reach lm-eval's hooks in the run context bound to the run's built tasks (no
    ContextVar); a run without --think-tags reads the same reply with the default tags."""
    write_ceval_subject(tmp_path / "data", 2)
    closed, cut = "<reasoning>先想：答案：A</reasoning>答案：B", "<reasoning>先想：答案：A"
    with ScriptedChat([], reply=lambda prompt: closed if "val问题0：" in prompt else cut).serving() as url:
        assert _run(url, tmp_path, "--think-tags", "<reasoning>,</reasoning>") == 0
        assert _run(url, tmp_path) == 0
    tagged, plain = sorted((tmp_path / "runs").glob("2*"))

    def samples(run):
        path = run / "samples" / "ceval_med_physician_gen.jsonl"
        return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]

    # the scoring hook read the thinking by the run's tags: the unclosed one is cut off, not answer A
    assert [s["extracted"] for s in samples(tagged)] == ["B", thinking.TRUNCATED]
    assert {s["thinking"] for s in samples(tagged)} == {"先想：答案：A"}
    assert all("thinking" not in s for s in samples(plain))  # the default tags find no thinking here
    assert [s["extracted"] for s in samples(plain)] == ["B", "A"]


def _reply_for(prompt: str):
    for k, (reply, _) in enumerate(CASES.values()):
        if f"val问题{k}：" in prompt:
            return reply
    raise AssertionError(f"no scripted reply for {prompt[-60:]!r}")


@pytest.fixture
def scripted(tmp_path):
    write_ceval_subject(tmp_path / "data", len(CASES))
    server = ScriptedChat([], reply=_reply_for)
    with server.serving() as url:
        yield server, url, tmp_path


def _run(url, tmp_path, *extra) -> int:
    args = ["run", "--model", "m", "--tasks", "ceval_med_physician", "--data-dir", str(tmp_path / "data")]
    return main([*args, "--backend", "openai", "--base-url", url, "--output", str(tmp_path / "runs"), *extra])


def test_each_form_of_thinking_is_scored_as_stated_with_exact_rates(scripted):
    server, url, tmp_path = scripted
    assert _run(url, tmp_path) == 0
    (run,) = (tmp_path / "runs").glob("2*")
    samples = [
        json.loads(x) for x in (run / "samples" / "ceval_med_physician_gen.jsonl").read_text().splitlines()
    ]
    by_id = {int(s["doc_id"]): s for s in samples}
    for k, (name, (_, expected)) in enumerate(CASES.items()):
        assert by_id[k]["extracted"] == expected, name
    field = by_id[2]  # reasoning_content: kept apart from the answer in the sample
    assert field["thinking"] == "答案是D吧" and field["answer"] == "答案：C" and not field["thinking_cut_off"]
    assert by_id[3]["thinking_cut_off"] and by_id[3]["answer"] == ""
    assert "thinking_tokens" not in field  # a chat API: no tokenizer here, so no count is guessed
    results = (run / "results.md").read_text()
    correct_line = f"{sum(by_id[k]['extracted'] == 'ABCD'[k % 4] for k in range(7)) / 7 * 100:.2f}"
    assert f"ceval_med_physician_gen: 5/7 replies thought, 2 cut off; accuracy {correct_line}" in results
    metrics = {m["metric"]: m for m in json.loads((run / "metrics.json").read_text())}
    assert metrics["truncated_thinking_rate"]["value"] == pytest.approx(2 / 7)
    assert metrics["parse_fail_rate"]["value"] == 0 and metrics["acc"]["n"] == 7
    gold = ["ABCD"[i % 4] for i in range(7)]
    correct = sum(by_id[k]["extracted"] == gold[k] for k in range(7))
    assert metrics["acc"]["value"] == pytest.approx(correct / 7)


def test_thinking_on_refuses_log_likelihood_scoring_in_one_line(tiny_model, tmp_path, capsys):
    args = ["run", "--model", tiny_model, "--tasks", "ceval_med", "--thinking", "on"]
    assert main([*args, "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "log-likelihood" in err[0] and "--mode gen" in err[0]


def test_thinking_on_sends_the_switch_and_leaves_room_to_think(scripted):
    server, url, tmp_path = scripted
    assert _run(url, tmp_path, "--thinking", "on", "--limit", "1") == 0
    body = server.seen_bodies[-1]
    assert body["chat_template_kwargs"] == {"enable_thinking": True}
    assert body["max_tokens"] == 4096 and "stop" not in body  # no stop string cuts the thinking
    assert _run(url, tmp_path, "--thinking", "off", "--limit", "1") == 0
    assert server.seen_bodies[-1]["chat_template_kwargs"] == {"enable_thinking": False}


def test_thinking_and_answer_tokens_are_counted_with_the_models_tokenizer():
    reply = thinking.split("<think>想一想</think>答案：C")
    assert thinking.token_counts(reply, None) == {}  # no tokenizer, no numbers
    per_character = list  # a tokenizer of one token per character
    assert thinking.token_counts(reply, per_character) == {"thinking_tokens": 3, "answer_tokens": 4}
    assert thinking.token_counts(thinking.split("答案：C"), per_character) == {}


# ---- --extractor llm: only what the patterns cannot parse, cached, counted, marked ----------------

LOOSE = {0: "我觉得第三个最合适", 1: "答案：B", 2: "都不太对", 3: "选第一个和第三个"}


def test_an_llm_extractor_reads_only_the_unparsed_replies_and_says_so(tmp_path):
    write_ceval_subject(tmp_path / "data", len(LOOSE))

    def model(prompt: str) -> str:
        return next(reply for k, reply in LOOSE.items() if f"val问题{k}：" in prompt)

    def extractor(prompt: str) -> str:  # the LLM extractor's reading of each loose reply
        reply = prompt.split("回答：")[-1]
        return {"我觉得第三个最合适": "C", "都不太对": "无", "选第一个和第三个": "A C"}[reply.split("\n")[0]]

    reader = ScriptedChat([], reply=extractor)
    with ScriptedChat([], reply=model).serving() as url, reader.serving() as extractor_url:
        flags = ["--extractor", "llm", "--extractor-model", "x", "--extractor-base-url", extractor_url]
        assert _run(url, tmp_path, *flags) == 0
        assert reader.total == 3  # the parsed "答案：B" was never sent
        assert _run(url, tmp_path, *flags) == 0
        assert reader.total == 3  # the re-run's readings came from the cache
    first = sorted((tmp_path / "runs").glob("2*"))[0]
    samples = [
        json.loads(x) for x in (first / "samples" / "ceval_med_physician_gen.jsonl").read_text().splitlines()
    ]
    assert [s["extracted"] for s in sorted(samples, key=lambda s: s["doc_id"])] == [
        "C [llm]",
        "B",
        "[unparsed]",
        "AC [llm]",
    ]
    metrics = {m["metric"]: m["value"] for m in json.loads((first / "metrics.json").read_text())}
    assert metrics["llm_extracted_rate"] == 0.5 and metrics["parse_fail_rate"] == 0.25
    assert metrics["acc"] == 0.25  # gold A B C D: only "答案：B" is right ("C [llm]" is item 0's, gold A)
    usage = json.loads((first / "calls.json").read_text())["extractor_usage"]
    assert usage["requests"] == 3


def test_the_llm_extractor_needs_its_model_and_server(tmp_path, capsys):
    assert (
        main(["run", "--model", "m", "--tasks", "ceval_med", "--extractor", "llm", "--output", str(tmp_path)])
        == 2
    )
    assert "--extractor-model" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("reply", "answer", "unfinished"),
    [
        ("答案：B。模型有时会输出<think>标签", "答案：B。模型有时会输出<think>标签", False),  # issue 24
        ("  <think>还在想", "", True),
        ("<think>想好了</think>答案：C", "答案：C", False),
    ],
)
def test_only_a_reply_that_opens_with_the_tag_is_thinking(reply, answer, unfinished):
    part = thinking.split(reply)
    assert (part.answer, part.unfinished) == (answer, unfinished)


@pytest.mark.parametrize(
    ("reply", "answer"),
    [
        ("答案：C（</think>是结束标签）", "答案：C（</think>是结束标签）"),  # issue 36
        ("答案：C。标签“</think>”表示思考结束", "答案：C。标签“</think>”表示思考结束"),
        ("答案：C, the `</think>` tag ends it", "答案：C, the `</think>` tag ends it"),
        ("想一想（第1步）</think>答案：B", "答案：B"),
        ("<think>想好了</think>答案：D（</think>不算）", "答案：D（</think>不算）"),
    ],
)
def test_a_closing_tag_in_brackets_or_quotes_is_mentioned_not_the_end_of_thinking(reply, answer):
    assert thinking.split(reply).answer == answer
    assert thinking.answer_start(reply) == len(reply) - len(answer)
    letters = ["A", "B", "C", "D"]
    assert extract_choice(thinking.split(reply).answer, letters) == answer[3]


def test_a_reply_full_of_mentioned_closing_tags_is_split_in_linear_time():
    import time

    reply = "（</think>" * 2000 + "\n答案：A" * 2000  # 10 KB each way
    started = time.perf_counter()
    assert thinking.split(reply).answer == reply
    assert time.perf_counter() - started < 0.5
