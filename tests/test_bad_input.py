"""Bad data never changes a score unnoticed: each malformed or duplicate item is reported with file and
row and left out; each unreadable file is one line naming it (issue 13, "silent wrong numbers" 4-6
and 8, and the reader crashes)."""

import json
import os
import shutil

import pytest

from medbench.core.errors import MedbenchError
from medbench.core.paths import SAMPLES_DIR
from tests.helpers import load_task_data

CMMLU_HEADER = ",Question,A,B,C,D,Answer\n"


def _cmmlu(tmp_path, test_rows: str, dev_rows: str | None = None):
    """A CMMLU anatomy subject with the given test rows (and the shipped dev file)."""
    root = tmp_path / "data"
    (root / "cmmlu" / "test").mkdir(parents=True)
    (root / "cmmlu" / "dev").mkdir(parents=True)
    (root / "cmmlu" / "test" / "anatomy.csv").write_text(CMMLU_HEADER + test_rows, encoding="utf-8")
    dev = SAMPLES_DIR / "cmmlu" / "dev" / "anatomy.csv"
    if dev_rows is None:
        shutil.copy(dev, root / "cmmlu" / "dev" / "anatomy.csv")
    else:
        (root / "cmmlu" / "dev" / "anatomy.csv").write_text(CMMLU_HEADER + dev_rows, encoding="utf-8")
    return root


def test_a_csv_row_with_an_unquoted_comma_is_reported_not_read_with_shifted_fields(tmp_path):
    root = _cmmlu(
        tmp_path,
        "0,问题一,甲,乙,丙,丁,A\n"
        "1,问题二,甲,乙,丙,丁,B\n"
        "2,血压为120,80 mmHg时,甲,乙,丙,丁,C\n",  # 8 fields: 'D' would read '丁'->'C' shifted
    )
    loaded = load_task_data("cmmlu_med_anatomy", root)
    assert [d["answer"] for d in loaded["test"]] == ["A", "B"]
    (bad,) = loaded.report.skipped
    assert bad.row == 3 and bad.file.endswith("anatomy.csv")
    assert "8 fields where the header has 7" in bad.reason


def test_duplicate_ids_and_identical_rows_are_scored_once_and_reported(tmp_path):
    root = _cmmlu(
        tmp_path,
        "0,问题一,甲,乙,丙,丁,A\n"
        "1,问题二,甲,乙,丙,丁,B\n"
        "1,问题三,甲,乙,丙,丁,C\n"  # the same id again
        "3,问题二,甲,乙,丙,丁,B\n",  # the same item under another id
    )
    loaded = load_task_data("cmmlu_med_anatomy", root)
    assert [d["question"] for d in loaded["test"]] == ["问题一", "问题二"]
    reasons = {s.row: (s.kind, s.reason) for s in loaded.report.skipped}
    assert reasons == {
        3: ("duplicate", "duplicate id '1' (first at row 2)"),
        4: ("duplicate", "duplicate of row 2"),
    }


def _cmtmedqa(tmp_path, records):
    root = tmp_path / "data"
    (root / "cmtmedqa").mkdir(parents=True)
    (root / "cmtmedqa" / "CMtMedQA_test.json").write_text(json.dumps(records, ensure_ascii=False))
    return root


GOOD = {"instruction": "还有别的办法吗？", "output": "可以热敷。", "history": [["头疼", "多休息"]]}


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ("头疼", "history: expected a list of [patient, doctor] pairs, got str"),
        ({"q": "头疼"}, "history: expected a list of [patient, doctor] pairs, got dict"),
        ([["头疼", "多休息", "多喝水"]], "history turn 1: expected a [patient, doctor] pair of texts, got 3"),
        (7, "history: expected a list of [patient, doctor] pairs, got int"),
    ],
)
def test_cmtmedqa_history_of_the_wrong_shape_is_reported_with_file_and_index(tmp_path, history, expected):
    root = _cmtmedqa(tmp_path, [GOOD, {**GOOD, "history": history}])
    loaded = load_task_data("cmtmedqa", root)
    data = loaded["test"]
    assert len(data) == 1 and data[0]["history"] == [["patient", "头疼"], ["doctor", "多休息"]]
    (bad,) = loaded.report.skipped
    assert bad.row == 2 and bad.file.endswith("CMtMedQA_test.json") and bad.reason.startswith(expected)


def test_a_text_field_of_another_type_is_malformed_never_stringified(tmp_path):
    root = _cmtmedqa(tmp_path, [GOOD, {**GOOD, "output": 12}, {**GOOD, "instruction": ["a", "b"]}])
    loaded = load_task_data("cmtmedqa", root)
    assert len(loaded["test"]) == 1
    assert [s.reason for s in loaded.report.skipped] == [
        "output: expected text, got int",
        "instruction: expected text, got list",
    ]


def _ccks(tmp_path, docs, shots=5):
    root = tmp_path / "data"
    (root / "ccks2019").mkdir(parents=True)
    good = {
        "originalText": "患者患有高血压。",
        "entities": [{"label_type": "疾病和诊断", "start_pos": 4, "end_pos": 7}],
    }
    lines = [
        {**good, "originalText": good["originalText"] + "第" + str(k) + "例。"} for k in range(shots)
    ] + docs
    text = "\n".join(json.dumps(d, ensure_ascii=False) for d in lines) + "\n"
    (root / "ccks2019" / "subtask1_training_part1.txt").write_text(text)
    (root / "ccks2019" / "subtask1_training_part2.txt").write_text("")
    return root


@pytest.mark.parametrize(
    ("start", "end"),
    [(5, 3), (-1, 3), (2, "len+1")],
    ids=["end-before-start", "negative-start", "end-past-text"],
)
@pytest.mark.parametrize("length", [20, 600], ids=["short", "over-400-chars"])
def test_ccks_entities_with_impossible_offsets_are_reported_not_dropped(tmp_path, start, end, length):
    text = ("患者患有高血压，" * 80)[:length]
    end = length + 1 if end == "len+1" else end
    doc = {
        "originalText": text,
        "entities": [
            {"label_type": "疾病和诊断", "start_pos": 4, "end_pos": 7},
            {"label_type": "疾病和诊断", "start_pos": start, "end_pos": end},
        ],
    }
    ok = {
        "originalText": "另一位患者患有糖尿病。",
        "entities": [{"label_type": "疾病和诊断", "start_pos": 7, "end_pos": 10}],
    }
    root = _ccks(tmp_path, [doc, ok])
    loaded = load_task_data("ccks2019_ner_train_heldout", root)
    test = loaded["test"]
    assert [d["text"] for d in test] == [ok["originalText"]]
    assert all("；；" not in d["answer"] and "：；" not in d["answer"] for d in test)
    (bad,) = loaded.report.skipped
    assert bad.row == 6 and "malformed entity 2" in bad.reason and bad.file.endswith("part1.txt")


def _mc_file(tmp_path, content: bytes, name="anatomy.csv"):
    root = _cmmlu(tmp_path, "0,问题一,甲,乙,丙,丁,A\n")
    (root / "cmmlu" / "test" / name).write_bytes(content)
    return root


@pytest.mark.parametrize(
    ("content", "hint"),
    [
        (CMMLU_HEADER.encode() + "0,问题一,甲,乙,丙,丁,A\n".encode("gbk"), "GBK"),
        ((CMMLU_HEADER + "0,问题一,甲,乙,丙,丁,A\n").encode("utf-16"), "UTF-16"),
        (CMMLU_HEADER.encode() + b"\x00\x01\x02\xff\xfe" * 50, "binary"),
        ((CMMLU_HEADER + "0,问题一,甲,乙,丙,丁,A\n0,问题二").encode()[:-2], "incomplete download"),
    ],
    ids=["gbk", "utf16", "binary", "cut-mid-character"],
)
def test_a_file_that_is_not_utf8_is_one_line_naming_it(tmp_path, content, hint):
    root = _mc_file(tmp_path, content)
    with pytest.raises(MedbenchError, match="anatomy.csv: not UTF-8 text") as err:
        load_task_data("cmmlu_med_anatomy", root)
    assert hint in str(err.value) and "\n" not in str(err.value)


def test_a_field_over_128_kb_is_read(tmp_path):
    long = "很长的题干" * 30000  # 450 KB: over the csv module's default field limit
    root = _cmmlu(tmp_path, f"0,{long},甲,乙,丙,丁,A\n")
    (item,) = load_task_data("cmmlu_med_anatomy", root)["test"]
    assert item["question"] == long


def test_a_folder_where_a_file_belongs_says_so(tmp_path):
    root = _cmmlu(tmp_path, "0,问题一,甲,乙,丙,丁,A\n")
    path = root / "cmmlu" / "test" / "anatomy.csv"
    path.unlink()
    path.mkdir()
    with pytest.raises(MedbenchError, match="anatomy.csv is a folder, expected a file"):
        load_task_data("cmmlu_med_anatomy", root)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_an_unreadable_file_says_so(tmp_path):
    root = _cmmlu(tmp_path, "0,问题一,甲,乙,丙,丁,A\n")
    (root / "cmmlu" / "test" / "anatomy.csv").chmod(0)
    with pytest.raises(MedbenchError, match="not readable"):
        load_task_data("cmmlu_med_anatomy", root)


def test_a_file_the_system_refuses_to_read_is_one_line(tmp_path, monkeypatch):
    from pathlib import Path

    root = _cmmlu(tmp_path, "0,问题一,甲,乙,丙,丁,A\n")
    target = root / "cmmlu" / "test" / "anatomy.csv"
    original = Path.read_bytes

    def refuse(self):  # what an unreadable file does for a non-root user (root reads anything)
        if self == target:
            raise PermissionError(13, "Permission denied", str(self))
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(MedbenchError, match="cannot read .*anatomy.csv \\(Permission denied\\)"):
        load_task_data("cmmlu_med_anatomy", root)
