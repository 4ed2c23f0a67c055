"""Data sources: official layouts load with the real item counts; bad rows are skipped and reported."""

import csv

import pytest

from medbench.core.errors import MedbenchError
from tests.helpers import load_task_data


@pytest.mark.parametrize(
    ("task", "split", "count", "duplicates"),
    [
        ("ceval_med_basic_medicine", "val", 19, 0),
        ("ceval_med_clinical_medicine", "val", 22, 0),
        ("ceval_med_physician", "val", 49, 0),
        # MedQA-MCMLE test.jsonl has 3,426 lines; 6 repeat an earlier line byte for byte
        ("medqa_mcmle", "test", 3426, 6),
    ],
)
def test_real_files_load_with_their_published_counts(shared_data, task, split, count, duplicates):
    data = load_task_data(task, shared_data)
    assert len(data[split]) == count - duplicates
    assert len(data["dev"]) >= 5
    assert [s.kind for s in data.report.skipped] == ["duplicate"] * duplicates


def test_cmmlu_seven_chimed_subjects_hold_1333_test_questions(shared_data):
    subjects = [
        "anatomy",
        "clinical_knowledge",
        "college_medicine",
        "genetics",
        "nutrition",
        "traditional_chinese_medicine",
        "virology",
    ]
    loaded = [load_task_data(f"cmmlu_med_{s}", shared_data) for s in subjects]
    total = sum(len(data["test"]) for data in loaded)
    # 1,333 rows, one of which repeats another row of its subject (reported, scored once)
    duplicates = [s for data in loaded for s in data.report.skipped if s.kind == "duplicate"]
    assert total == 1333 - 1 and len(duplicates) == 1 and "duplicate" in duplicates[0].reason


def test_cmexam_val_skips_exactly_the_malformed_rows_and_says_where(shared_data):
    data = load_task_data("cmexam", shared_data)
    reasons = sorted(s.reason for s in data.report.skipped)
    assert reasons == ["missing option A", "missing option A", "missing option C", "no answer"]
    assert len(data["val"]) == 6811 - len(reasons)
    assert all(s.file.endswith("cmexam/val.csv") and s.row > 0 for s in data.report.skipped)
    multi = [d for d in data["val"] if len(d["answer"]) > 1]
    assert len(multi) == 210


def test_cmexam_loglik_keeps_single_answer_items_and_counts_the_rest(shared_data):
    data = load_task_data("cmexam_loglik", shared_data)
    assert len(data["val"]) == 6811 - 4 - 210
    assert sum(data.report.excluded.values()) == 210


def test_official_and_lm_eval_prompt_styles_differ_as_documented(shared_data):
    official = load_task_data("ceval_med_physician", shared_data)["val"][0]
    lm_eval = load_task_data("ceval_med_physician", shared_data, prompt_style="lm-eval")["val"][0]
    assert "考试" in official["description"] and "考试" not in lm_eval["description"]
    assert official["prompt"].endswith("答案：") and lm_eval["prompt"].endswith("答案：")
    assert official["choices"] == ["A", "B", "C", "D"]
    assert lm_eval["choices"] == [" A", " B", " C", " D"]
    cmmlu = load_task_data("cmmlu_med_anatomy", shared_data)["test"][0]
    assert cmmlu["prompt"].startswith("题目：") and cmmlu["prompt"].endswith("答案是：")


def _write_ceval(root, rows, header=("id", "question", "A", "B", "C", "D", "answer")):
    for split in ("dev", "val"):
        path = root / "ceval" / split / f"physician_{split}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(rows)


def test_a_missing_column_is_one_line_naming_file_and_expected_columns(tmp_path):
    _write_ceval(
        tmp_path, [("0", "问题", "甲", "乙", "丙", "丁")], header=("id", "question", "A", "B", "C", "D")
    )
    with pytest.raises(MedbenchError) as err:
        load_task_data("ceval_med_physician", tmp_path)
    message = str(err.value)
    assert "physician_dev.csv" in message and "missing column(s) answer" in message
    assert "expected columns id, question, A, B, C, D, answer" in message
    assert "\n" not in message


def test_rows_with_answer_outside_options_or_blank_fields_are_skipped_and_reported(tmp_path):
    _write_ceval(
        tmp_path,
        [
            ("0", "正常的题目", "甲", "乙", "丙", "丁", "B"),
            ("1", "答案越界", "甲", "乙", "丙", "丁", "F"),
            ("2", "", "甲", "乙", "丙", "丁", "A"),
            ("3", "缺选项", "甲", "", "丙", "丁", "A"),
        ],
    )
    data = load_task_data("ceval_med_physician", tmp_path)
    assert len(data["val"]) == 1
    val_skips = [s for s in data.report.skipped if "physician_val" in s.file]
    assert [(s.row, s.reason) for s in val_skips] == [
        (2, "answer 'F' is not among the options A-D"),
        (3, "empty question"),
        (4, "missing option B"),
    ]


def test_no_local_data_offline_says_which_files_to_put_where(monkeypatch, tmp_path):
    monkeypatch.delenv("MEDBENCH_DATA", raising=False)
    monkeypatch.setenv("MEDBENCH_CACHE", str(tmp_path))  # nothing pulled
    with pytest.raises(MedbenchError) as err:
        load_task_data("chimed_qa", "")  # licensed: no pinned source
    assert "chimed_qa/test.jsonl" in str(err.value) and "--data-dir" in str(err.value)
    with pytest.raises(MedbenchError) as err:
        load_task_data("medqa_mcmle", "")  # pinned, not pulled, offline
    assert "medqa_mcmle/dev.jsonl is not pulled" in str(err.value) and "medbench data pull" in str(err.value)
    assert "--data-dir" in str(err.value)
