"""Issue 26: decision margins. Each loglik MC sample records the gap between its top two options;
results count the items decided by less than the backend's noise (fragile) and give the accuracy range
if they go either way -- counts and ranges equal hand computations."""

from __future__ import annotations

import json

import pytest

from medbench.analysis import margins
from medbench.core import sample_files
from medbench.core.paths import SAMPLES_DIR
from medbench.run.runner import RunConfig, run


def test_the_margin_is_the_gap_between_the_top_two_options():
    assert margins.margin([-1.0, -3.0, -1.5, -9.0]) == pytest.approx(0.5)
    assert margins.margin([-2.0, -2.0]) == 0.0
    assert margins.margin([-2.0]) is None


def test_fragile_counts_and_the_accuracy_range_by_hand(tmp_path):
    # margins and correctness of 6 items; threshold 0.1: items 0, 1, 4 are fragile (1 of them right)
    items = [(0.05, True), (0.0, False), (0.3, True), (2.0, False), (0.09, False), (1.0, True)]
    lines = [json.dumps({"doc_id": i, "margin": m, "correct": c}) for i, (m, c) in enumerate(items)]
    lines.append(json.dumps({"doc_id": 6, "margin": 0.01, "correct": False, "error": "HTTP 500"}))  # failed
    (tmp_path / "t.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (found,) = margins.summarise(sample_files.read(tmp_path), 0.1)
    assert (found.n, found.fragile, found.correct, found.fragile_correct) == (6, 3, 3, 1)
    # all fragile wrong: 2 of 6 right; no wrong item says where its gold is: none can be counted right
    assert (found.low, found.high) == (pytest.approx(2 / 6), pytest.approx(3 / 6))
    score = found.score()
    assert score.metric == "fragile_rate" and score.value == 0.5 and score.convention == "margin < 0.1 nats"


def test_only_a_fragile_item_whose_gold_is_near_the_top_can_flip_right(tmp_path):
    """Issue 36: acc_if_fragile_right counted every fragile wrong item as recoverable (67.5% reported
    where at most 45.0% was possible): a wrong item's runner-up may be near the top while its gold is not."""
    near = {"A": -1.0, "B": -1.05, "C": -4.0, "D": -5.0}  # A chosen, B 0.05 behind
    records = [
        {"doc_id": 0, "margin": 0.05, "correct": False, "gold": "B", "raw": near},  # gold near: can flip
        {"doc_id": 1, "margin": 0.05, "correct": False, "gold": "C", "raw": near},  # gold 3 nats away
        {"doc_id": 2, "margin": 0.05, "correct": True, "gold": "A", "raw": near},
        {"doc_id": 3, "margin": 2.0, "correct": False, "gold": "D", "raw": near},
    ]
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    (found,) = margins.summarise(sample_files.read(tmp_path), 0.1)
    assert (found.fragile, found.recoverable) == (3, 1)
    assert (found.low, found.high) == (pytest.approx(0 / 4), pytest.approx(2 / 4))
    assert margins.record([found])[0]["acc_if_fragile_right"] == pytest.approx(0.5)


@pytest.mark.slow
def test_a_run_records_margins_and_counts_fragile_items(tiny_model, tmp_path):
    common = dict(model=tiny_model, tasks=["medqa_mcmle"], data_dir=str(SAMPLES_DIR), limit=4)
    folder, scores = run(RunConfig(output=str(tmp_path / "a"), **common))
    samples = [
        json.loads(x) for x in (folder.path / "samples" / "medqa_mcmle.jsonl").read_text().splitlines()
    ]
    for s in samples:
        top = sorted(s["raw"].values(), reverse=True)
        assert s["margin"] == pytest.approx(top[0] - top[1])
    (fragile,) = [s for s in scores if s.metric == "fragile_rate"]
    assert fragile.convention == "margin < 0.001 nats"  # the hf backend's noise by default
    assert fragile.value == sum(s["margin"] < 1e-3 for s in samples) / 4

    folder, scores = run(RunConfig(output=str(tmp_path / "b"), fragile_margin=1e9, **common))
    (record,) = json.loads((folder.path / "margins.json").read_text(encoding="utf-8"))
    assert (
        record["fragile"] == 4 and record["acc_if_fragile_wrong"] == 0 and record["acc_if_fragile_right"] == 1
    )
    assert "acc if they go wrong - right" in (folder.path / "results.md").read_text(encoding="utf-8")


def test_a_circular_runs_fragility_counts_questions_not_rotations(tmp_path):
    """Issue 36: the unit is the question; a question is fragile if any rotation is, and the accuracy
    range is over questions as acc is (each rotation weighing 1/4)."""
    records = [
        {"id": f"q{q}#r{k}", "unit": f"q{q}", "rotation": k, "rotations": 4, "correct": k < 2}
        | {"margin": 0.01 if (q, k) == (0, 0) else 1.0}
        for q in range(2)
        for k in range(4)
    ]
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    (found,) = margins.summarise(sample_files.read(tmp_path), 0.1)
    assert (found.n, found.fragile) == (2, 1)
    assert (found.low, found.high) == (pytest.approx(0.375), pytest.approx(0.5))  # acc 0.5 over questions
    assert found.score().n == 2
