"""Issue 40: ``cmb-official`` equals CMB's own scorer. CMB's ``match_choice``/``extract_ans`` and
``score.py`` (vendored unchanged under tests/fixtures/cmb/official, Apache-2.0, from commit 6c8ece46)
run on the same replies as medbench's convention: every reply's answer, every exam type's score and
the overall agree, on 280 varied replies and through a run of ``cmb_exam_official``.
"""

from __future__ import annotations

import builtins
import json
import random
import runpy
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from medbench.cli.main import main
from medbench.scoring import cmb_official

FIXTURE = Path(__file__).parent / "fixtures"
OFFICIAL = FIXTURE / "cmb" / "official"
HIERARCHY = json.loads((FIXTURE / "cmb" / "CMB-test" / "CMB-test-choice-hierarchy.json").read_text("utf-8"))
CLASSES = [(t, c) for t, classes in HIERARCHY.items() if t != "总题量" for c in classes]
FIXED = [
    "答案：A",
    "答案是B。",
    "答案为C，因为……",
    "正确选项是D和B。",
    "正确选项应该是ACE.",
    "答案应该为：E",
    "答案：\n\nBD",
    "我选A。答案是C。",
    "B",
    "ABCDE",
    "EB",
    "The answer is A",
    "无法回答。",
    "",
    "答案是。A",
    "选项A和选项C都对，答案为AC",
    "答案：F",
    "答案：G",
    "答案是a",
    "答案：D.因为A不对",
    "正确选项为：A、B、D",
    "<think>想想看，答案是A</think>答案：B",
    "<think>还没想完，答案是A",
    "答案是 ABC 。",
    "答案：1.A 2.B",
]

PLAIN = [t for t in FIXED if "<think>" not in t]  # CMB's code has no notion of thinking


def replies(count: int) -> list[str]:
    """The fixed hard cases, then random ones over the characters the pattern turns on."""
    rng = random.Random(40)
    pieces = [
        "答案",
        "正确选项",
        "是",
        "：",
        "为",
        "应该是",
        "应该为",
        "。",
        ".",
        "\n",
        "A",
        "B",
        "C",
        "D",
        "E",
    ]
    pieces += ["F", "G", "a", "和", "、", "选", "因为", " ", "H", "不对"]
    out = list(FIXED)
    while len(out) < count:
        out.append("".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))))
    return out


def ground_truth(count: int) -> list[dict]:
    """An answers file in CMB's layout: every class, single and multiple answers, ``EB`` as given."""
    golds = ["A", "B", "C", "D", "E", "AC", "BD", "ACE", "EB", "F", "ABCDE"]
    out = []
    for i in range(count):
        exam_type, exam_class = CLASSES[i % len(CLASSES)]
        gold = golds[(i // len(CLASSES) + i) % len(golds)]
        kind = "多项选择题" if len(gold) > 1 or i % 5 == 0 else "单项选择题"
        out.append(
            {
                "id": i + 1,
                "exam_type": exam_type,
                "exam_class": exam_class,
                "question_type": kind,
                "answer": gold,
            }
        )
    return out


def cmbs_own_scores(truth: list[dict], texts: list[str], folder: Path, cot: bool) -> tuple[list[str], dict]:
    """Each reply's answer as CMB's extract_ans keeps it, and score.py's result, run as CMB runs them."""
    code = runpy.run_path(str(OFFICIAL / "utils.py"))
    answers = folder / "answers.json"  # generate_answers.py's output: one JSON object per line
    lines = [
        {"id": r["id"], "question_type": r["question_type"], "answer_0": text}
        for r, text in zip(truth, texts, strict=True)
    ]
    answers.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    code["extract_ans"](1, str(answers), cot)
    extracted = json.loads(answers.read_text(encoding="utf-8"))
    files = {
        "/data/ground_truth/CMB-test-choice-answer.json": folder / "truth.json",
        "model_answer.json": folder / "model_answer.json",
        "accuracy_results_structured.json": folder / "result.json",
    }
    files["model_answer.json"].write_text(json.dumps(extracted, ensure_ascii=False), encoding="utf-8")
    files["/data/ground_truth/CMB-test-choice-answer.json"].write_text(json.dumps(truth), encoding="utf-8")

    def opening(name, *args, **kwargs):  # score.py's fixed paths, here
        return builtins.open(files[name], *args, **kwargs)

    runpy.run_path(str(OFFICIAL / "score.py"), init_globals={"open": opening})
    result = json.loads(files["accuracy_results_structured.json"].read_text(encoding="utf-8"))
    return [x["model_answer"] for x in extracted], result


@pytest.mark.parametrize("cot", [False, True])
def test_cmb_official_equals_cmbs_own_scorer_reply_by_reply_and_score_by_score(tmp_path, cot):
    texts = replies(280)
    truth = ground_truth(len(texts))
    theirs, result = cmbs_own_scores(truth, texts, tmp_path, cot)
    plain = [t not in FIXED or t in PLAIN for t in texts]  # medbench removes thinking first (below)
    ours = [cmb_official.model_answer(t, r["question_type"]) for t, r in zip(texts, truth, strict=True)]
    assert [o for o, p in zip(ours, plain, strict=True) if p] == [
        t for t, p in zip(theirs, plain, strict=True) if p
    ]
    assert len(set(ours)) > 20  # the replies are varied: many different readings
    items = [
        (r["exam_type"], r["exam_class"], answer == r["answer"])
        for r, answer in zip(truth, theirs, strict=True)
    ]
    assert cmb_official.type_scores(items) == result["accuracy_per_category"]
    overall = cmb_official.overall(items)
    assert overall == pytest.approx(sum(result["accuracy_per_category"].values()) / 6, abs=1e-15)
    for name, exam_type in cmb_official.EXAM_TYPES.items():
        scorer = getattr(cmb_official, f"accuracy_{name}")
        assert scorer(items) == result["accuracy_per_category"][exam_type]


def test_thinking_is_removed_before_cmbs_reading_and_unfinished_thinking_reads_no_answer():
    assert cmb_official.model_answer("<think>想想看，答案是A</think>答案：B", "单项选择题") == "B"
    assert cmb_official.model_answer("<think>还没想完，答案是A", "单项选择题") == ""
    assert cmb_official.model_answer("答案：DB", "多项选择题") == "DB"  # CMB keeps the order written
    assert cmb_official.model_answer("答案：DB", "单项选择题") == "D"


def test_under_circular_the_answer_as_given_moves_with_its_options_in_its_own_order():
    from medbench.scoring import rotations

    item = {
        "id": "14",
        "options": [[x, f"选项{x}"] for x in "ABCDE"],
        "answer": "BE",
        "answer_as_given": "EB",
    }
    rotated = [rotations.rotate(item, k) for k in range(5)]
    assert [r["answer_as_given"] for r in rotated] == ["EB", "DA", "CE", "BD", "AC"]
    # under every rotation and every order (--circular-orders all), the answer names the same option
    # texts, in the answer file's order
    every = rotations.rotations(item, every=True)
    assert len(every) == 120
    for r in rotated + every:
        assert [dict(r["options"])[x] for x in r["answer_as_given"]] == ["选项E", "选项B"], r["order"]
    # an answer the file writes in order stays in order: a reply naming the right options as models
    # write them (alphabetically) is right under every order, as it is under the file's own
    alphabetical = {**item, "answer": "ACD", "answer_as_given": "ACD"}
    for r in rotations.rotations(alphabetical, every=True):
        given = r["answer_as_given"]
        assert given == "".join(sorted(given)) == r["answer"]
        assert sorted(dict(r["options"])[x] for x in given) == ["选项A", "选项C", "选项D"]


def official_run(tmp_path: Path, script, **settings):
    """A run of cmb_exam_official on the fixture against a scripted server: (folder, scores)."""
    from medbench.run.runner import RunConfig, run

    with script.serving() as url:
        options = {"model_name": "scripted", "max_retries": 0, "timeout": 5.0, "base_url": url}
        config = RunConfig(
            model="scripted",
            tasks=["cmb_exam_official"],
            backend="openai",
            data_dir=str(FIXTURE),
            output=str(tmp_path / "runs"),
            backend_options=options,
            **settings,
        )
        return run(config)


def test_a_run_of_cmb_exam_official_equals_cmbs_scorer_on_the_same_replies(tmp_path):
    from tests.servers import ScriptedChat

    def reply(prompt: str) -> str:
        number = int(prompt.split("第", 1)[1].split("题", 1)[0])
        return PLAIN[number % len(PLAIN)]

    folder, scores = official_run(tmp_path, ScriptedChat([], reply=reply), slice_by=["exam_type"])
    truth = json.loads((FIXTURE / "cmb" / "CMB-test-choice-answer.json").read_text(encoding="utf-8"))
    samples = folder.path / "samples" / "cmb_exam_official.jsonl"
    raw = {r["id"]: r["raw"] for r in map(json.loads, samples.read_text(encoding="utf-8").splitlines())}
    read, result = cmbs_own_scores(truth, [raw[str(r["id"])] for r in truth], tmp_path, cot=False)
    assert set(raw.values()) == set(PLAIN)  # what the server sent, as it sent it
    got = {s.metric: s for s in scores if s.task == "cmb_exam_official"}
    assert got["acc_cmb"].n == 56
    # each exam type's score rests on that type's questions: its n, and its interval's resamples
    types = Counter(r["exam_type"] for r in truth)
    for name, exam_type in cmb_official.EXAM_TYPES.items():
        assert got[f"acc_cmb_{name}"].n == types[exam_type] < 56
    # the records say what CMB compared: its reading, the answer file's own string, right or wrong
    records = {r["id"]: r for r in map(json.loads, samples.read_text(encoding="utf-8").splitlines())}
    theirs = dict(zip([str(r["id"]) for r in truth], read, strict=True))
    for r in truth:
        record = records[str(r["id"])]
        assert record["extracted"] == theirs[str(r["id"])] and record["gold"] == r["answer"]
        assert record["correct"] == (record["extracted"] == r["answer"])
    assert any(len(r["answer"]) > 1 and r["answer"] != "".join(sorted(r["answer"])) for r in truth)
    assert got["acc"].value == pytest.approx(sum(r["correct"] for r in records.values()) / 56)
    # --slice-by exam_type slices CMB's own right/wrong: each type's questions, as its score counts them
    slices = json.loads((folder.path / "slices.json").read_text(encoding="utf-8"))
    counted = {x["value"]: x["n"] for x in slices if x["task"] == "cmb_exam_official"}
    assert counted == dict(types)
    assert got["acc_cmb"].value == pytest.approx(sum(result["accuracy_per_category"].values()) / 6)
    for name, exam_type in cmb_official.EXAM_TYPES.items():
        assert got[f"acc_cmb_{name}"].value == pytest.approx(result["accuracy_per_category"][exam_type])
    # the report's paper-style table: CMB's columns, the measured row, its convention named
    assert main(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "site")]) == 0
    table = pd.read_csv(tmp_path / "site" / "tables" / "cmb_exam_table.csv")
    columns = [
        "Physician",
        "Nurse",
        "Pharmacist",
        "Technician",
        "Disciplines",
        "Graduate Entrance Exam",
        "Avg",
    ]
    assert list(table.columns[1:8]) == columns and list(table["Source"]) == ["measured"]
    assert table["Avg"][0] == pytest.approx(round(100 * got["acc_cmb"].value, 2))
    assert table["Convention"][0].startswith("cmb-official")


def test_a_circular_run_counts_each_types_failures_and_its_table_row_says_circular(tmp_path):
    from tests.servers import ScriptedChat

    # question 1 (a physician question) fails under every rotation; every reply names option B
    script = ScriptedChat([("第1题（", "500")], reply="答案：B")
    _, scores = official_run(tmp_path, script, circular=True, limit=56)
    got = {s.metric: s for s in scores if s.task == "cmb_exam_official"}
    assert (got["acc_cmb_physician"].n, got["acc_cmb_physician"].n_failed) == (9, 1)
    for name in ("nursing", "pharmacist", "technician", "discipline", "postgraduate"):
        assert got[f"acc_cmb_{name}"].n_failed == 0, name  # another type's failure is not theirs
    assert main(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "site")]) == 0
    table = pd.read_csv(tmp_path / "site" / "tables" / "cmb_exam_table.csv")
    assert list(table["Mode"]) == ["gen (--circular)"]
