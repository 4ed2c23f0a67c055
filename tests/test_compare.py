"""Issue 26: ``medbench compare RUN_A RUN_B``. Two hand-made run folders with known flips give the exact
McNemar p-value worked by hand from the binomial, Holm's adjustment, and the flipped items with both
replies; items one run failed or lacks are left out and counted; files another program wrote are
checked like user input."""

from __future__ import annotations

import json
import re
from math import comb
from pathlib import Path

import pytest

from medbench.analysis.compare import compare, holm, mcnemar_exact
from medbench.cli.main import main
from medbench.core.errors import MedbenchError

# item i: (A right?, B right?) -- 2 both right, 1 broke (right in A only), 7 fixed, 1 both wrong
FLIPS = [(1, 1), (1, 1), (1, 0), *[(0, 1)] * 7, (0, 0)]


def _run(root: Path, name: str, samples: dict[str, list[dict]]) -> Path:
    folder = root / name
    (folder / "samples").mkdir(parents=True)
    for task, records in samples.items():
        lines = [json.dumps(r, ensure_ascii=False) for r in records]
        (folder / "samples" / f"{task}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _record(i: int, right: int, reply: str, **extra) -> dict:
    return {
        "doc_id": i,
        "id": f"q{i}",
        "gold": "B",
        "extracted": reply,
        "metrics": {"acc": float(right)},
        "correct": bool(right),
        **extra,
    }


@pytest.fixture
def runs(tmp_path):
    a = {
        "medqa_mcmle": [_record(i, x, "B" if x else "A") for i, (x, _) in enumerate(FLIPS)]
        + [_record(99, 1, "B")],  # only A has it: left out
        "cmexam": [_record(i, 1, "B") for i in range(4)],
    }
    b = {
        "medqa_mcmle": [_record(i, y, "B" if y else "C") for i, (_, y) in enumerate(FLIPS)],
        "cmexam": [_record(i, 1, "B") for i in range(3)] + [_record(3, 0, "", error="HTTP 500")],  # failed
    }
    return _run(tmp_path, "run-a", a), _run(tmp_path, "run-b", b)


def test_mcnemar_is_the_two_sided_binomial_on_the_discordant_items():
    # 1 broke, 7 fixed: P(X <= 1 | n = 8, 1/2) doubled = 2 * (C(8,0) + C(8,1)) / 2^8
    assert mcnemar_exact(1, 7) == pytest.approx(2 * (comb(8, 0) + comb(8, 1)) / 2**8)
    assert mcnemar_exact(7, 1) == mcnemar_exact(1, 7)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(3, 3) == 1.0


def test_holm_steps_down_and_stays_monotone():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_compare_finds_the_known_flips_and_the_exact_p_value(runs):
    a, b = runs
    by_task = {r.task: r for r in compare(a, b)}
    medqa = by_task["medqa_mcmle"]
    assert medqa.n == 11 and medqa.only_one == 1  # q99 is in A only
    assert [x.id for x, _ in medqa.fixed] == [f"q{i}" for i in range(3, 10)]
    assert [(x.id, x.reply, y.reply) for x, y in medqa.broke] == [("q2", "B", "C")]
    assert medqa.a == pytest.approx(3 / 11) and medqa.b == pytest.approx(9 / 11)
    assert medqa.test == "exact McNemar" and medqa.p == pytest.approx(18 / 256)
    assert medqa.low < medqa.difference < medqa.high
    cmexam = by_task["cmexam"]
    assert cmexam.n == 3 and cmexam.only_one == 1 and cmexam.p == 1.0  # the failed item is left out
    # Holm over the two tasks: 2 x 18/256, then max(that, 1 x 1.0)
    assert medqa.p_holm == pytest.approx(36 / 256) and cmexam.p_holm == 1.0
    assert not medqa.significant


def test_the_cli_prints_the_table_and_both_replies_of_each_flip(runs, capsys):
    a, b = runs
    assert main(["compare", str(a), str(b), "--task", "medqa_mcmle"]) == 0
    out = capsys.readouterr().out
    assert "| medqa_mcmle | 11 | 27.27 | 81.82 | +54.55 [" in out
    assert "exact McNemar: 0.0703" in out and "(n.s.)" in out
    assert "### medqa_mcmle: broke (1)" in out and "| q2 | B | B | C |" in out
    assert "### medqa_mcmle: fixed (7)" in out


def test_a_received_samples_file_that_is_not_records_is_one_line(runs, capsys):
    a, b = runs
    with open(b / "samples" / "medqa_mcmle.jsonl", "a", encoding="utf-8") as fh:
        fh.write("[1, 2]\n")
    assert main(["compare", str(a), str(b)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "medqa_mcmle.jsonl:12: not a sample record" in err


def test_items_with_another_gold_are_not_the_same_items(runs, capsys):
    a, b = runs
    path = b / "samples" / "cmexam.jsonl"
    path.write_text(
        path.read_text(encoding="utf-8").replace('"gold": "B"', '"gold": "D"', 1), encoding="utf-8"
    )
    assert main(["compare", str(a), str(b), "--task", "cmexam"]) == 2
    assert "not the same items" in capsys.readouterr().err


def test_a_task_not_in_both_runs_is_named(runs, capsys):
    a, b = runs
    assert main(["compare", str(a), str(b), "--task", "../x"]) == 2
    err = capsys.readouterr().err
    assert "no per-sample file for ../x in both runs" in err and "cmexam, medqa_mcmle" in err
    assert main(["compare", str(a), str(a.parent / "nothing")]) == 2


def test_by_group_pools_a_groups_subjects_into_one_comparison(tmp_path):
    a = _run(tmp_path, "a", {"ceval_med_x": [_record(0, 1, "B")], "ceval_med_y": [_record(0, 0, "A")]})
    b = _run(tmp_path, "b", {"ceval_med_x": [_record(0, 0, "A")], "ceval_med_y": [_record(0, 1, "B")]})
    results = {"group_subtasks": {"ceval_med": ["ceval_med_x", "ceval_med_y"]}}
    (a / "results.json").write_text(json.dumps(results), encoding="utf-8")
    (pooled,) = compare(a, b, by_group=True)
    assert pooled.task == "ceval_med" and pooled.n == 2
    assert [x.id for x, _ in pooled.fixed] == ["ceval_med_y/q0"] and [x.id for x, _ in pooled.broke] == [
        "ceval_med_x/q0"
    ]
    (a / "results.json").write_text('{"group_subtasks": {"g": "not a list"}}', encoding="utf-8")
    with pytest.raises(MedbenchError, match="group_subtasks must map"):
        compare(a, b, by_group=True)


def _scored_run(root: Path, model: str, right: list[int]) -> None:
    from dataclasses import asdict

    from medbench.analysis.summary import Score
    from medbench.run.rundir import RunFolder

    folder = RunFolder.create(root, model)
    folder.write_json("config.json", {"model": model, "tasks": ["medqa_mcmle"]})
    folder.write_json("model.json", {"weights_sha256": model})
    folder.write_json("status.json", {"complete": True, "n_failed": 0})
    acc = sum(right) / len(right)
    folder.write_json("metrics.json", [asdict(Score("medqa_mcmle", "acc", acc, len(right), None, ""))])
    (folder.path / "samples").mkdir()
    lines = [json.dumps(_record(i, r, "B" if r else "A")) for i, r in enumerate(right)]
    (folder.path / "samples" / "medqa_mcmle.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_the_leaderboard_page_marks_a_gap_that_is_not_significant(tmp_path):
    runs = tmp_path / "runs"
    _scored_run(runs, "model-a", [1, 1, 1, 0, 0, 0, 0, 0, 0, 0])  # 30
    _scored_run(runs, "model-b", [1, 1, 1, 1, 0, 0, 0, 0, 0, 0])  # 40: one flip from A, p = 1
    _scored_run(runs, "model-c", [1] * 10)  # 100: 6 fixed, 0 broke from B, p = 2 / 2^6
    assert main(["report", str(runs), "--out", str(tmp_path / "site")]) == 0
    page = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    ties = re.findall(r'class="tied" title="([^"]*)"', page)
    assert ties == ["not significantly different from model-b (exact McNemar p = 1)"]
    task_page = (tmp_path / "site" / "tasks" / "medqa_mcmle.html").read_text(encoding="utf-8")
    pairs = re.findall(
        r"<tr><td class=\"model\">(model-\w)</td><td class=\"model\">(model-\w)</td>(.*?)</tr>", task_page
    )
    cells = {(a, b): re.findall(r"<td>([^<]*)</td>", rest) for a, b, rest in pairs}
    # A vs C: 7 fixed, 0 broke: p = 2 / 2^7; A vs B: 1 fixed: p = 1
    assert cells[("model-a", "model-c")] == ["10", "+70.00", "7", "0", "0.0156"]
    assert cells[("model-a", "model-b")] == ["10", "+10.00", "1", "0", "1 (n.s.)"]


def _rotations(q: int, rights: list[int]) -> list[dict]:
    """A --circular question's records: one per rotation, its unit the question."""
    return [
        _record(
            4 * q + k, r, "B" if r else "A", id=f"q{q}#r{k}", circular_of=f"q{q}", rotation=k, rotations=4
        )
        | {"unit": f"q{q}"}
        for k, r in enumerate(rights)
    ]


def test_two_circular_runs_are_compared_question_by_question(tmp_path):
    """Issue 36: 3 questions flipped (each wrong under one rotation in A, right under all in B) gave
    exact McNemar p = 0.0005 over 20 rotations; over the 5 questions it is p = 0.25, not significant,
    on acc (each question's share of right rotations: the exact sign test) and on circular_acc."""
    a = [r for q in range(3) for r in _rotations(q, [1, 1, 0, 1])] + [
        r for q in range(3, 5) for r in _rotations(q, [1, 1, 1, 1])
    ]
    b = [r for q in range(5) for r in _rotations(q, [1, 1, 1, 1])]
    run_a, run_b = _run(tmp_path, "a", {"cmexam": a}), _run(tmp_path, "b", {"cmexam": b})
    (acc,) = compare(run_a, run_b)
    assert (acc.n, acc.metric, acc.test) == (5, "acc", "exact sign test")
    assert (acc.a, acc.b) == (pytest.approx(0.85), 1.0) and acc.p == pytest.approx(0.25)
    assert not acc.significant and acc.low < 0 < acc.high  # the interval agrees with the test
    (circular,) = compare(run_a, run_b, metric="circular_acc")
    assert (circular.n, len(circular.fixed), len(circular.broke)) == (5, 3, 0)
    assert circular.test == "exact McNemar" and circular.p == pytest.approx(0.25)
    assert not circular.significant
    assert circular.high - circular.low > 0.4  # Newcombe over 5 questions, not a zero-width bootstrap


def test_a_question_with_a_failed_rotation_is_left_out_of_a_circular_comparison(tmp_path):
    a = _rotations(0, [1, 1, 1, 1]) + _rotations(1, [1, 1, 1, 1])
    b = _rotations(0, [1, 1, 1, 1]) + _rotations(1, [1, 1, 1, 1])
    b[5]["error"] = "HTTP 500"
    (result,) = compare(_run(tmp_path, "a", {"cmexam": a}), _run(tmp_path, "b", {"cmexam": b}))
    assert (result.n, result.only_one) == (1, 1)


def test_a_circular_run_is_not_compared_with_a_plain_one(tmp_path, capsys):
    a = _run(tmp_path, "a", {"cmexam": _rotations(0, [1, 1, 1, 1])})
    b = _run(tmp_path, "b", {"cmexam": [_record(0, 1, "B", unit="q0") | {"id": "q0"}]})
    assert main(["compare", str(a), str(b)]) == 2
    assert "one run is --circular and the other is not" in capsys.readouterr().err


def test_three_items_all_fixed_get_an_interval_with_width(tmp_path):
    """Issue 36: +100.00 [+100.00, +100.00] beside 'p = 0.25, n.s.' was a zero-width bootstrap."""
    a = _run(tmp_path, "a", {"cmexam": [_record(i, 0, "A") for i in range(3)]})
    b = _run(tmp_path, "b", {"cmexam": [_record(i, 1, "B") for i in range(3)]})
    (result,) = compare(a, b)
    assert result.difference == 1.0 and result.p == pytest.approx(0.25)
    assert result.low < 0.5 and result.high == 1.0


def test_runs_that_read_different_data_are_not_compared(runs, capsys):
    """Issue 36: compare ran silently on runs whose data hashes differ."""
    a, b = runs
    for folder, digest in ((a, "1" * 64), (b, "2" * 64)):
        data = {"files_sha256": {f"/data/{folder.name}/medqa_mcmle/test.jsonl": digest}}
        (folder / "data.json").write_text(json.dumps(data), encoding="utf-8")
    assert main(["compare", str(a), str(b)]) == 2
    err = capsys.readouterr().err
    assert "read different data (medqa_mcmle/test.jsonl: sha256 111111111111 vs 222222222222)" in err
    assert len(err.strip().splitlines()) == 1


def test_the_leaderboards_tie_mark_on_circular_runs_tests_questions_for_the_column_it_sits_in(tmp_path):
    """Issue 36: the leaderboard's ≈ marks used McNemar over rotations; for two --circular runs they
    test the acc column's own per-question shares, over questions (the exact sign test)."""
    from dataclasses import asdict

    from medbench.analysis.summary import Score
    from medbench.run.rundir import RunFolder

    for model, wrong in (("model-a", 3), ("model-b", 0)):  # A: 3 of 5 questions wrong once each
        records = [r for q in range(5) for r in _rotations(q, [1, 1, 0, 1] if q < wrong else [1, 1, 1, 1])]
        folder = RunFolder.create(tmp_path / "runs", model)
        folder.write_json("config.json", {"model": model, "tasks": ["medqa_mcmle"], "circular": True})
        folder.write_json("model.json", {"weights_sha256": model})
        folder.write_json("status.json", {"complete": True, "n_failed": 0})
        acc = sum(r["metrics"]["acc"] for r in records) / len(records)
        score = {**asdict(Score("medqa_mcmle", "acc", acc, 5, None, "")), "ci_low": 0.4, "ci_high": 1.0}
        folder.write_json("metrics.json", [score])
        (folder.path / "samples").mkdir()
        text = "\n".join(json.dumps(r) for r in records) + "\n"
        (folder.path / "samples" / "medqa_mcmle.jsonl").write_text(text, encoding="utf-8")
    assert main(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "site")]) == 0
    page = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert re.findall(r'class="tied" title="([^"]*)"', page) == [
        "not significantly different from model-b (exact sign test p = 0.25)"
    ]
