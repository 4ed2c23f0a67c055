"""Issue 26: --slice-by. A CMExam file with the annotated release's columns gives per-slice counts
equal to the ones this test computes by hand from the file; --slice-by subject slices a group by its
subjects; an item without the field is counted as such, never guessed into a slice."""

from __future__ import annotations

import csv
import json
from collections import Counter

from medbench.cli.main import main
from medbench.core.paths import SAMPLES_DIR
from medbench.run.runner import RunConfig, run
from tests.servers import ScriptedChat

HEADER = ["Question", "Options", "Answer", "Explanation", "Disease Group", "Difficulty level"]
OPTIONS = "A 甲\nB 乙\nC 丙\nD 丁\nE 戊"
# (answer, disease group, difficulty): the scripted model always answers A
ROWS = [
    ("A", "循环系统疾病", "1"),
    ("B", "循环系统疾病", "1"),
    ("A", "消化系统疾病", "2"),
    ("A", "消化系统疾病", "3"),
    ("C", "", "3"),  # no disease group: its own "(no value)" slice
    ("A", "循环系统疾病", "2"),
    ("B", "../" + "病" * 300 + "|<b>x</b>", "1"),  # a value from the file: shown escaped, never a path
]


def _write(root):
    (root / "cmexam").mkdir(parents=True)
    with open(root / "cmexam" / "val.csv", "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for i, (answer, group, level) in enumerate(ROWS):
            out.writerow([f"第{i}题：哪一个？", OPTIONS, answer, "", group, level])


def _by_hand(column: int) -> dict[str, tuple[int, int]]:
    items, right = Counter(), Counter()
    for row in ROWS:
        value = row[column] or "(no value)"
        items[value] += 1
        right[value] += row[0] == "A"
    return {value: (items[value], right[value]) for value in items}


def _always_a(tmp_path, **settings):
    """A run of the hand-written CMExam file by a scripted model that always answers A."""
    _write(tmp_path / "data")
    options = {"model_name": "scripted", "max_retries": 0, "timeout": 5.0}
    with ScriptedChat([], reply="答案：A").serving() as url:
        config = RunConfig(
            model="scripted",
            tasks=["cmexam"],
            backend="openai",
            data_dir=str(tmp_path / "data"),
            output=str(tmp_path / "runs"),
            backend_options={**options, "base_url": url},
            **settings,
        )
        return run(config)[0]


def test_per_slice_counts_equal_the_hand_counts(tmp_path):
    folder = _always_a(tmp_path, slice_by=["Disease Group", "Difficulty level"])
    found = json.loads((folder.path / "slices.json").read_text(encoding="utf-8"))
    for column, index in (("Disease Group", 1), ("Difficulty level", 2)):
        got = {s["value"]: (s["n"], s["correct"]) for s in found if s["column"] == column}
        assert got == _by_hand(index), column
    results = (folder.path / "results.md").read_text(encoding="utf-8")
    # 循环系统疾病: 3 items, 2 right; Wilson(2, 3) = [20.77, 93.85]
    assert "| cmexam | 循环系统疾病 | 3 | 66.67 | [20.77, 93.85] | 0 |" in results

    hostile = "../" + "病" * 300 + "\\|<b>x</b>"  # the | escaped: the table keeps its columns
    assert f"| cmexam | {hostile} | 1 | 0.00 |" in results

    # the task page shows the slices; a slices.json another program wrote wrong is not shown, one line
    assert main(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "site")]) == 0
    page = (tmp_path / "site" / "tasks" / "cmexam.html").read_text(encoding="utf-8")
    assert "<h2>Slices</h2>" in page and "循环系统疾病</td><td>3</td><td>66.67</td><td>[20.77, 93.85]" in page
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert not list(tmp_path.rglob("*病病病*"))  # no file or folder named after a value
    (folder.path / "slices.json").write_text('[{"task": "cmexam", "n": "many"}]', encoding="utf-8")
    assert main(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "site2")]) == 0
    assert "<h2>Slices</h2>" not in (tmp_path / "site2" / "tasks" / "cmexam.html").read_text(encoding="utf-8")


def test_slice_by_subject_splits_a_group_into_its_subjects(tiny_model, tmp_path):
    config = RunConfig(
        model=tiny_model,
        tasks=["ceval_med"],
        data_dir=str(SAMPLES_DIR),
        output=str(tmp_path),
        limit=2,
        slice_by=["subject"],
    )
    folder, scores = run(config)
    found = json.loads((folder.path / "slices.json").read_text(encoding="utf-8"))
    assert {s["task"] for s in found} == {"ceval_med"}
    assert {s["value"]: s["n"] for s in found} == {
        "ceval_med_basic_medicine": 2,
        "ceval_med_clinical_medicine": 2,
        "ceval_med_physician": 2,
    }
    by_subject = {s.task: s.value for s in scores if s.metric == "acc" and not s.convention}
    for s in found:
        assert s["correct"] / s["n"] == by_subject[s["value"]]


def test_an_unknown_column_is_one_line_naming_it_and_the_columns_the_task_has(tmp_path, capsys):
    """Issue 36: a misspelt column gave one "(no value)" slice holding every item."""
    _write(tmp_path / "data")
    args = ["run", "--model", "m", "--tasks", "cmexam", "--backend", "openai", "--base-url", "http://x/v1"]
    args += ["--data-dir", str(tmp_path / "data"), "--output", str(tmp_path / "runs")]
    assert main([*args, "--slice-by", "Disease group"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "--slice-by 'Disease group': no item of cmexam has that column" in line
    assert "its columns: Difficulty level, Disease Group (or subject)" in line
    assert not (tmp_path / "runs").exists()  # stopped before any request


def test_a_circular_runs_slices_count_questions_not_rotations(tmp_path):
    """Issue 36 (found by the attacker): under --circular each slice counted every rotation as an
    item (n = 10 for 2 questions, a Wilson interval over 10)."""
    folder = _always_a(tmp_path, slice_by=["Difficulty level"], circular=True)
    found = {s["value"]: s for s in json.loads((folder.path / "slices.json").read_text(encoding="utf-8"))}
    questions = Counter(row[2] for row in ROWS)
    assert {value: s["n"] for value, s in found.items()} == dict(questions)
    for value, s in found.items():  # always "A": right under exactly one of the five rotations
        assert (
            s["correct"] == 0.2 * questions[value]
            and s["ci_method"] == "wilson bound (mean of [0, 1] values)"
        )
