"""Issue 26: CircularEval (``--circular``). Rotations move each answer with its option; a scripted server
that always answers "A" gets plain accuracy = the share of A-gold items, circular accuracy 0 and a
histogram of 100% A; hf-fast gives hf's per-rotation log-likelihoods; --limit counts questions; the
few-shot block is never rotated; a task or setting it cannot serve is one line."""

from __future__ import annotations

import json

import pytest

from medbench.analysis import circular, intervals
from medbench.cli.main import main
from medbench.core.paths import SAMPLES_DIR
from medbench.run.runner import RunConfig, run
from medbench.scoring import rotations
from tests.servers import ScriptedChat

ITEM = {
    "id": "q1",
    "question": "?",
    "options": [["A", "a"], ["B", "b"], ["C", "c"], ["D", "d"]],
    "answer": "B",
}


def test_each_rotation_moves_the_answer_with_its_option():
    rotated = rotations.rotations(ITEM)
    assert [r["answer"] for r in rotated] == ["B", "A", "D", "C"]
    for r in rotated:  # the gold letter always names option text "b"
        assert dict(map(tuple, r["options"]))[r["answer"]] == "b"
    assert [r["id"] for r in rotated] == ["q1#r0", "q1#r1", "q1#r2", "q1#r3"]
    assert {r["circular_of"] for r in rotated} == {"q1"} and {r["rotations"] for r in rotated} == {4}


def test_a_multi_answer_item_rotates_its_answer_set():
    item = {**ITEM, "options": [*ITEM["options"], ["E", "e"]], "answer": "AC"}
    for r in rotations.rotations(item):
        options = dict(map(tuple, r["options"]))
        assert sorted(options[x] for x in r["answer"]) == ["a", "c"]


def _samples(folder, task):
    lines = (folder.path / "samples" / f"{task}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines]


def _scripted(url, output, **settings) -> RunConfig:
    options = {"model_name": "scripted", "base_url": url, "max_retries": 0, "timeout": 5.0}
    return RunConfig(
        model="scripted",
        tasks=["medqa_mcmle"],
        backend="openai",
        data_dir=str(SAMPLES_DIR),
        output=str(output),
        backend_options=options,
        circular=True,
        **settings,
    )


def test_a_multi_answer_question_right_every_time_shows_no_position_bias():
    item = {"id": "q", "question": "问", "options": [[x, f"选项{x}"] for x in "ABCDE"], "answer": "ACD"}
    records = [
        {**r, "extracted": r["answer"], "gold": r["answer"], "correct": True}
        for r in rotations.rotations(item)
    ]
    (result,) = circular.summarise({"t": records})
    table = circular.markdown([result])
    row = next(line for line in table.splitlines() if line.startswith("| t "))
    # every letter is chosen and is gold in 3 of the 5 rotated items: 60 / 60, never 60 / 20
    assert row.count("60 / 60") == 5, row


def test_a_server_that_always_answers_A_has_no_circular_accuracy(tmp_path):
    with ScriptedChat([], reply="答案：A").serving() as url:
        folder, scores = run(_scripted(url, tmp_path))
    samples = _samples(folder, "medqa_mcmle_gen")
    by = {(s.task, s.metric): s for s in scores}
    a_gold = sum(r["gold"] == "A" for r in samples) / len(samples)
    assert len(samples) == 5 * 4  # 5 questions x 4 rotations
    assert by[("medqa_mcmle_gen", "acc")].value == pytest.approx(a_gold) == pytest.approx(0.25)
    assert by[("medqa_mcmle_gen", "circular_acc")].value == 0.0
    assert by[("medqa_mcmle_gen", "circular_acc")].n == 5
    assert by[("medqa_mcmle_gen", "answer_changed_rate")].value == 1.0
    (record,) = json.loads((folder.path / "circular.json").read_text(encoding="utf-8"))
    assert record["chosen"] == {"A": 20} and record["gold"] == {"A": 5, "B": 5, "C": 5, "D": 5}
    origin = sum(r["gold"] == "A" for r in samples if r["rotation"] == 0)
    results = (folder.path / "results.md").read_text(encoding="utf-8")
    histogram = "100 / 25 | 0 / 25 | 0 / 25 | 0 / 25"
    row = f"| medqa_mcmle_gen | 5 | 0 | 0.00 | {100 * origin / 5:.2f} | 100.00 | {histogram} |"
    assert row in results


def test_a_circular_runs_accuracy_rests_on_its_questions_not_its_rotations(tmp_path):
    """Issue 36: 5 questions asked under 4 rotations are 5 units: acc's n is 5 and its interval is
    the one 5 questions allow (the Wilson bound of their per-question means), not 20 items'."""
    with ScriptedChat([], reply="答案：A").serving() as url:
        folder, scores = run(_scripted(url, tmp_path))
    by = {(s.task, s.metric): s for s in scores}
    acc = by[("medqa_mcmle_gen", "acc")]
    assert acc.n == 5 and acc.value == pytest.approx(0.25)
    assert (acc.ci_low, acc.ci_high) == pytest.approx(intervals.wilson(0.25, 5))
    assert acc.ci_method == intervals.WILSON_BOUND
    assert acc.ci_high - acc.ci_low > intervals.proportion(5, 20)[1] - intervals.proportion(5, 20)[0]
    samples = _samples(folder, "medqa_mcmle_gen")
    assert {r["unit"] for r in samples} == {r["circular_of"] for r in samples}  # declared per record
    origin = by[("medqa_mcmle_gen", "acc_origin")]
    right = sum(r["correct"] for r in samples if r["rotation"] == 0)
    assert (origin.value, origin.n) == (right / 5, 5)
    assert (origin.ci_low, origin.ci_high) == pytest.approx(intervals.proportion(right, 5))
    metrics = json.loads((folder.path / "metrics.json").read_text(encoding="utf-8"))
    assert {m["n"] for m in metrics if m["task"] == "medqa_mcmle_gen"} == {5}
    (record,) = json.loads((folder.path / "circular.json").read_text(encoding="utf-8"))
    # OpenCompass's "right in at least j of k": always "A" is right under exactly one rotation
    assert record["right_in_at_least"] == {"1": 5, "2": 0, "3": 0, "4": 0}


def test_a_reply_naming_no_letter_is_one_unparsed_reply_not_its_characters(tmp_path):
    """Issue 36: ``[unparsed]`` was counted as the letters [ ] a d e n p r s u."""
    with ScriptedChat([], reply="我不确定").serving() as url:
        folder, _ = run(_scripted(url, tmp_path))
    (record,) = json.loads((folder.path / "circular.json").read_text(encoding="utf-8"))
    assert record["chosen"] == {"?": 20}
    assert set(record["gold"]) == {"A", "B", "C", "D"}
    header = next(
        line
        for line in (folder.path / "results.md").read_text(encoding="utf-8").splitlines()
        if "chosen/gold" in line
    )
    assert [c.strip()[0] for c in header.split("|") if "chosen/gold" in c] == ["A", "B", "C", "D"]


def test_a_failed_question_is_incomplete_and_left_out(tmp_path):
    with ScriptedChat([("转移性右下腹痛", "500")], reply="答案：A").serving() as url:
        folder, scores = run(_scripted(url, tmp_path))
    by = {(s.task, s.metric): s for s in scores}
    assert by[("medqa_mcmle_gen", "circular_acc")].n == 4
    assert by[("medqa_mcmle_gen", "circular_acc")].n_failed == 1
    # plain accuracy rests on the same questions (issue 36: it kept the other rotations' items)
    assert (by[("medqa_mcmle_gen", "acc")].n, by[("medqa_mcmle_gen", "acc")].n_failed) == (4, 1)


def test_limit_counts_questions_and_the_shots_stay_unrotated(tiny_model, tmp_path):
    config = RunConfig(
        model=tiny_model,
        tasks=["medqa_mcmle"],
        data_dir=str(SAMPLES_DIR),
        output=str(tmp_path),
        limit=2,
        circular=True,
        shots=2,
    )
    folder, _ = run(config)
    samples = _samples(folder, "medqa_mcmle")
    first, second = samples[0]["circular_of"], samples[4]["circular_of"]
    assert [s["id"] for s in samples] == [f"{q}#r{k}" for q in (first, second) for k in range(4)]
    assert first != second
    dev = [json.loads(x) for x in (SAMPLES_DIR / "medqa_mcmle" / "dev.jsonl").read_text().splitlines()]
    shots = "".join(f"{d['question']}\nA. {d['options']['A']}\nB. {d['options']['B']}" for d in dev[:1])
    assert all(shots in s["prompt"] for s in samples)  # the first shot as the file has it, every time


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--tasks", "huatuo26m"], "huatuo26m is not multiple choice"),
        (["--tasks", "medqa_mcmle", "--shard", "0/2"], "--circular with --shard"),
        # issue 36: its rotations have no right-or-wrong per item: circular_acc 0 for a perfect model
        (["--tasks", "cmexam_official"], "cmexam_official is scored by acc_cmexam, answered_rate only"),
    ],
)
def test_what_circular_cannot_serve_is_one_line(tiny_model, tmp_path, capsys, flags, message):
    code = main(
        [
            "run",
            "--model",
            tiny_model,
            "--circular",
            "--data-dir",
            str(SAMPLES_DIR),
            "--output",
            str(tmp_path),
            *flags,
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err


@pytest.mark.slow
def test_hf_fast_gives_hf_per_rotation_loglikelihoods(tiny_model, tmp_path):
    raw, acc = {}, {}
    for backend in ("hf", "hf-fast"):
        config = RunConfig(
            model=tiny_model,
            tasks=["ceval_med_physician"],
            backend=backend,
            circular=True,
            data_dir=str(SAMPLES_DIR),
            output=str(tmp_path / backend),
            limit=3,
        )
        folder, scores = run(config)
        raw[backend] = {s["id"]: s["raw"] for s in _samples(folder, "ceval_med_physician")}
        acc[backend] = {s.metric: s.value for s in scores if s.convention == circular.CONVENTION}
    assert raw["hf"].keys() == raw["hf-fast"].keys() and len(raw["hf"]) == 12
    for key, logliks in raw["hf"].items():
        assert logliks == pytest.approx(raw["hf-fast"][key], abs=1e-3), key
    assert acc["hf"] == acc["hf-fast"]


def test_all_orders_asks_every_permutation_and_counts_questions(tmp_path):
    """Issue 36: OpenCompass's other mode -- every one of the n! orders of the options (24 for 4)."""
    with ScriptedChat([], reply="答案：A").serving() as url:
        folder, scores = run(_scripted(url, tmp_path, limit=2, circular_orders="all"))
    samples = _samples(folder, "medqa_mcmle_gen")
    assert len(samples) == 2 * 24 and len({tuple(r["order"]) for r in samples}) == 24
    for question in {r["circular_of"] for r in samples}:  # the gold moves with its option in every order
        group = [r for r in samples if r["circular_of"] == question]
        assert len({r["order"][ord(r["gold"]) - 65] for r in group}) == 1
    by = {(s.task, s.metric): s for s in scores}
    assert by[("medqa_mcmle_gen", "acc")].n == 2 and by[("medqa_mcmle_gen", "acc")].value == pytest.approx(
        0.25
    )
    assert by[("medqa_mcmle_gen", "circular_acc")].value == 0.0
    (record,) = json.loads((folder.path / "circular.json").read_text(encoding="utf-8"))
    assert (
        record["right_in_at_least"]["6"] == 2 and record["right_in_at_least"]["7"] == 0
    )  # A is gold 6 of 24
    assert record["chosen"] == {"A": 48}


def test_all_orders_without_circular_is_one_line(tiny_model, tmp_path, capsys):
    args = ["run", "--model", tiny_model, "--tasks", "medqa_mcmle", "--circular-orders", "all"]
    assert main([*args, "--data-dir", str(SAMPLES_DIR), "--output", str(tmp_path)]) == 2
    assert "--circular-orders chooses the orders --circular asks: add --circular" in capsys.readouterr().err


def test_with_repeats_each_circular_score_is_the_mean_over_the_repeats(tmp_path):
    """Attacker finding (issue 36): with ``--repeats 2`` the circular rows were repeat 0's alone,
    beside run scores that are the mean over both repeats, without saying so."""
    asked = []

    def reply(prompt):  # the first pass (20 rotated items) names no letter, the second always A
        asked.append(prompt)
        return "我不确定" if len(asked) <= 20 else "答案：A"

    with ScriptedChat([], reply=reply).serving() as url:
        folder, scores = run(_scripted(url, tmp_path, repeats=2, temperature=0.7))
    assert len(asked) == 40
    by = {(s.task, s.metric): s for s in scores}
    second = [
        json.loads(x) for x in (folder.path / "samples-1" / "medqa_mcmle_gen.jsonl").read_text().splitlines()
    ]
    right_at_origin = sum(r["correct"] for r in second if r["rotation"] == 0) / 5
    assert right_at_origin > 0  # the test needs the repeats to differ
    origin = by[("medqa_mcmle_gen", "acc_origin")]
    assert origin.values == pytest.approx([0.0, right_at_origin])
    assert origin.value == pytest.approx(right_at_origin / 2)
    assert by[("medqa_mcmle_gen", "acc")].value == pytest.approx(0.25 / 2)  # as the run's own acc is
    results = (folder.path / "results.md").read_text(encoding="utf-8")
    assert "mean over the 2 repeats; their files and the sections below show repeat 0" in results


def test_the_leaderboard_counts_a_circular_runs_questions(tmp_path):
    """Issue 36: the leaderboard showed n = 20 for 5 questions asked under 4 rotations."""
    from medbench.report.board import board
    from medbench.report.folders import collect

    with ScriptedChat([], reply="答案：A").serving() as url:
        folder, _ = run(_scripted(url, tmp_path))
    folders, _ = collect([str(folder.path)])
    (row,) = board(folders, with_published=False).rows
    measured = {key: cell.n for key, cell in row.cells.items() if cell.value is not None}
    assert measured and set(measured.values()) == {5}, measured
