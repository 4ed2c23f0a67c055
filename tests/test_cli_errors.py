"""Bad input gets one clear line on stderr and exit code 2 -- never a traceback."""

import csv
import os
import subprocess
import sys

import pytest

from medbench.cli import main


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


def test_unknown_task_name_suggests_close_ones(capsys, tmp_path):
    code = main(["run", "--model", "tiny", "--tasks", "cmexm", "--output", str(tmp_path)])
    assert code == 2
    line = _error_line(capsys)
    assert "unknown task 'cmexm'" in line and "cmexam" in line


def test_model_path_that_does_not_exist(capsys, tmp_path):
    code = main(
        ["run", "--model", str(tmp_path / "no-such-model"), "--tasks", "cmexam", "--output", str(tmp_path)]
    )
    assert code == 2
    assert "does not exist" in _error_line(capsys)


def test_folder_without_config_is_not_a_model(capsys, tmp_path):
    code = main(["run", "--model", str(tmp_path), "--tasks", "cmexam", "--output", str(tmp_path)])
    assert code == 2
    assert "no config.json" in _error_line(capsys)


def test_missing_data_folder(capsys, tmp_path):
    code = main(
        [
            "run",
            "--model",
            "tiny",
            "--tasks",
            "cmexam",
            "--data-dir",
            str(tmp_path / "nope"),
            "--output",
            str(tmp_path),
        ]
    )
    assert code == 2
    assert "data folder" in _error_line(capsys)


def test_csv_with_a_missing_column(capsys, tmp_path, tiny_model):
    path = tmp_path / "data" / "cmexam" / "val.csv"
    path.parent.mkdir(parents=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["Question", "Options"], ["问题", "A 甲\nB 乙"]])
    code = main(
        [
            "run",
            "--model",
            tiny_model,
            "--tasks",
            "cmexam",
            "--data-dir",
            str(tmp_path / "data"),
            "--output",
            str(tmp_path / "runs"),
        ]
    )
    assert code == 2
    line = _error_line(capsys)
    assert "cmexam/val.csv" in line and "missing column(s) Answer" in line


def test_a_row_with_answer_f_is_skipped_and_reported_not_fatal(capsys, tmp_path, tiny_model):
    path = tmp_path / "data" / "cmexam" / "val.csv"
    path.parent.mkdir(parents=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(
            [
                ["Question", "Options", "Answer", "Explanation"],
                ["甘味的作用特点是", "A 能补\nB 能泄\nC 能软\nD 能收\nE 能散", "A", ""],
                ["坏行", "A 甲\nB 乙\nC 丙\nD 丁\nE 戊", "F", ""],
            ]
        )
    code = main(
        [
            "run",
            "--model",
            tiny_model,
            "--tasks",
            "cmexam_loglik",
            "--data-dir",
            str(tmp_path / "data"),
            "--output",
            str(tmp_path / "runs"),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "| cmexam_loglik | 1 | " in out
    assert "val.csv row 2: answer 'F' is not among the options A-E" in out


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--model", "tiny", "--tasks", "not_a_task"],
        ["run", "--model", "./missing", "--tasks", "cmexam"],
    ],
)
def test_the_installed_command_prints_no_traceback(args, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "medbench", *args, "--output", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("medbench: error: ")
