"""Bad input gets one clear line on stderr and exit code 2 -- never a traceback."""

import csv
import os
import subprocess
import sys

import pytest

from medbench.cli.main import main


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


RUN = ["run", "--model", "tiny", "--tasks", "medqa_mcmle"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--limit", "0"], "--limit must be at least 1 item per task"),
        (["--limit", "-1"], "--limit must be at least 1 item per task"),
        (["--repeats", "0"], "--repeats must be at least 1"),
        (["--max-new-tokens", "-5"], "--max-new-tokens must be at least 1"),
        (["--shots", "-1"], "--shots must be 0 or more"),
        (["--temperature", "-1"], "--temperature must be 0 (greedy) or more"),
        (["--top-p", "1.5"], "--top-p must be in (0, 1]"),
        (["--tasks", ""], "--tasks must be a comma-separated list naming at least one task"),
        # issue 24, "Tracebacks"
        (["--seed", "-1"], "--seed must be 0 or more"),
        (["--temperature", "nan"], "--temperature must be 0 (greedy) or more, a finite number"),
        (["--temperature", "inf"], "--temperature must be 0 (greedy) or more, a finite number"),
        (["--max-new-tokens", "1000000000"], "--max-new-tokens must be at least 1 and at most 1048576"),
        (["--extractor-timeout", "0"], "--extractor-timeout must be a positive number"),
        (["--extractor-max-retries", "-1"], "--extractor-max-retries must be 0 or more"),
        # issue 36, "Tracebacks": numpy's ValueError and islice's, after the run folder was made
        (["--seed", str(2**32)], "--seed must be 0 or more and at most 4294967295 (numpy and torch"),
        (["--limit", str(10**23)], f"--limit must be at least 1 item per task and at most {sys.maxsize}"),
        (["--seed", str(2**32 - 1), "--repeats", "2"], "the last repeat's seed would pass 4294967295"),
        # issue 36, "Confusing": lm-eval ran a device it does not know on cuda or cpu, recording the name
        (["--device", "nonsense"], "--device must be cpu, cuda, cuda:N, mps or mps:0 (got nonsense)"),
    ],
)
def test_out_of_range_run_options_are_one_line_never_a_silent_default(capsys, tmp_path, extra, message):
    assert main([*RUN, "--output", str(tmp_path), *extra]) == 2
    assert message in _error_line(capsys)
    assert not any(tmp_path.iterdir())  # refused before a run folder or a model


def test_cuda_without_a_gpu_is_one_line(capsys, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    assert main([*RUN, "--output", str(tmp_path), "--device", "cuda"]) == 2
    assert "PyTorch sees no CUDA GPU" in _error_line(capsys)


def _medqa(tmp_path, test_lines: int, dev_lines: int):
    from medbench.core.paths import SAMPLES_DIR

    root = tmp_path / "data" / "medqa_mcmle"
    root.mkdir(parents=True)
    for split, n in (("test", test_lines), ("dev", dev_lines)):
        lines = (SAMPLES_DIR / "medqa_mcmle" / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
        (root / f"{split}.jsonl").write_text("".join(x + "\n" for x in lines[:n]), encoding="utf-8")
    return root.parent


@pytest.mark.parametrize(
    ("test_lines", "dev_lines", "extra", "message"),
    [
        (0, 5, [], "medqa_mcmle: no item to evaluate in split 'test'"),
        (5, 3, [], "medqa_mcmle: 5 few-shot examples asked for, but split 'dev' holds 3 usable item(s)"),
        (5, 5, ["--shots", "9"], "medqa_mcmle: 9 few-shot examples asked for, but split 'dev' holds 5"),
    ],
    ids=["empty-test-file", "short-few-shot-file", "shots-over-the-pool"],
)
def test_unusable_task_data_is_one_line_before_the_model_loads(
    capsys, tmp_path, monkeypatch, test_lines, dev_lines, extra, message
):
    from medbench.backends.hf import HFConfig

    def no_model(*args, **kwargs):
        raise AssertionError("the model must not load")

    monkeypatch.setattr(HFConfig, "make_lm", no_model)
    data = _medqa(tmp_path, test_lines, dev_lines)
    assert main([*RUN, "--data-dir", str(data), "--output", str(tmp_path / "runs"), *extra]) == 2
    assert message in _error_line(capsys)


@pytest.mark.parametrize("kind", ["gbk", "folder"])
def test_a_bias_items_file_in_gbk_or_a_folder_is_one_line(capsys, tmp_path, kind):
    items = tmp_path / "items.json"
    if kind == "gbk":
        items.write_bytes('{"items": [{"no": 1, "text_zh": "精神疾病患者"}]}'.encode("gbk"))
    else:
        items.mkdir()
    code = main(
        ["bias", "--scale", "mica", "--model", "tiny", "--items", str(items), "--output", str(tmp_path)]
    )
    assert code == 2
    line = _error_line(capsys)
    assert "items.json" in line and ("not UTF-8" if kind == "gbk" else "is a folder") in line


def test_a_task_named_twice_alone_and_in_its_group_is_one_line(capsys, tmp_path):
    args = ["run", "--model", "tiny", "--tasks", "ceval_med,ceval_med_physician", "--output", str(tmp_path)]
    assert main(args) == 2
    assert "--tasks names ceval_med_physician (in ceval_med) and ceval_med_physician" in _error_line(capsys)


def test_more_new_tokens_than_the_model_holds_is_one_line(capsys, tmp_path, tiny_model):
    from medbench.core.paths import SAMPLES_DIR

    args = ["run", "--model", tiny_model, "--tasks", "huatuo26m", "--data-dir", str(SAMPLES_DIR)]
    assert main([*args, "--max-new-tokens", "100000", "--output", str(tmp_path)]) == 2
    assert "leaves no room for the prompt" in _error_line(capsys)


def test_a_300_character_served_name_makes_a_run_folder(tmp_path):
    from medbench.run.rundir import RunFolder

    folder = RunFolder.create(tmp_path, "m" * 300)
    assert folder.path.is_dir() and len(folder.path.name) < 120
    other = RunFolder.create(tmp_path, "m" * 299 + "x")  # same first 63 characters, another hash
    assert other.path.name != folder.path.name and not other.path.name.endswith("-2")


def test_missing_data_is_found_before_a_model_alias_is_converted(capsys, tmp_path, monkeypatch):
    """issue 24, case 18: smollm2-135m was converted from its GGUF (211 s) before the data was missing."""
    from medbench.models import resolve as models

    def no_conversion():
        raise AssertionError("the model must not be converted before the data is checked")

    monkeypatch.setitem(models.ALIASES, "smollm2-135m", no_conversion)
    (tmp_path / "data").mkdir()
    args = ["run", "--model", "smollm2-135m", "--tasks", "cmexam", "--data-dir", str(tmp_path / "data")]
    assert main([*args, "--output", str(tmp_path / "runs")]) == 2
    assert "cmexam" in _error_line(capsys)


def test_data_verify_without_a_name_says_what_to_name(capsys):
    assert main(["data", "verify"]) == 2
    assert "name the data: --tasks" in _error_line(capsys)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--price-in", "-1"], "--price-in must be 0 or more (got -1.0)"),
        (
            ["--seed", "-3"],
            "--seed must be 0 or more and at most 4294967295 (numpy and torch take a 32-bit seed) (got -3)",
        ),
        (["--timeout", "0"], "--timeout must be a positive number of seconds (got 0.0)"),
        (["--timeout", "nan"], "--timeout must be a positive number of seconds (got nan)"),
    ],
)
def test_judge_settings_are_checked_against_their_declared_ranges(capsys, tmp_path, extra, message):
    """Issue 25: the judge's settings are declared once (medbench/config/judge.py) and checked there;
    its client's are the openai backend's, checked as that backend checks them."""
    runs = [str(tmp_path / "a"), str(tmp_path / "b")]
    args = ["judge", "--runs", *runs, "--rubric", "iimedgpt_pf", "--judge-model", "j"]
    assert main([*args, "--base-url", "http://127.0.0.1:9/v1", *extra]) == 2
    assert message in _error_line(capsys)


def _fill_the_disk_at(monkeypatch, name: str) -> None:
    """The disk fills while ``name`` is written: half of its first write lands, then ENOSPC -- as
    for every way a file is opened for writing (``open``, ``Path.write_text``)."""
    import builtins
    import errno
    import io

    real = io.open

    class FullDisk:
        def __init__(self, fh) -> None:
            self.fh = fh

        def write(self, text: str) -> int:
            self.fh.write(text[: len(text) // 2])
            self.fh.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.fh.close()

    def opening(file, mode="r", *args, **kwargs):
        fh = real(file, mode, *args, **kwargs)
        named = isinstance(file, (str, os.PathLike)) and name in os.path.basename(file)
        return FullDisk(fh) if named and "w" in mode else fh

    monkeypatch.setattr(io, "open", opening)
    monkeypatch.setattr(builtins, "open", opening)


def test_a_run_that_fills_the_disk_is_one_line_and_never_marked_complete(capsys, tmp_path, monkeypatch):
    """Issue 36: metrics.json was left cut in half beside a status.json saying complete, and the
    OSError a traceback. Each file is written whole or not at all, and the status is written last."""
    import json

    from medbench.core.paths import SAMPLES_DIR

    _fill_the_disk_at(monkeypatch, "metrics.json")
    args = [*RUN, "--limit", "2", "--data-dir", str(SAMPLES_DIR), "--output", str(tmp_path)]
    assert main(args) == 2
    line = _error_line(capsys)
    assert line.startswith("medbench: error: cannot write ") and line.endswith(
        "metrics.json: No space left on device"
    )
    (folder,) = tmp_path.glob("*-tiny")
    assert not (folder / "metrics.json").exists()  # no half file ...
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []  # ... nor its temporary
    assert json.loads((folder / "status.json").read_text())["complete"] is False


def _other_commands(tmp_path, url: str, output: str) -> dict[str, list[str]]:
    """contamination, report and judge, each writing its results to ``output``."""
    from medbench.core.paths import SAMPLES_DIR
    from tests.test_judge import _run_folder
    from tests.test_path_escapes import _run

    train = tmp_path / "train.jsonl"
    train.write_text('{"instruction": "胃痛怎么办？"}\n', encoding="utf-8")
    contamination = [
        "contamination",
        "--tasks",
        "cmexam",
        "--train",
        str(train),
        "--data-dir",
        str(SAMPLES_DIR),
    ]
    runs = [_run_folder(tmp_path, "run-a", "A答"), _run_folder(tmp_path, "run-b", "B答")]
    judge = ["judge", "--runs", *runs, "--rubric", "iimedgpt_pf", "--judge-model", "j", "--lang", "en"]
    report = ["report", str(_run(tmp_path / "runs", "good").parent), "--no-published"]
    return {
        "contamination": [*contamination, "--output", output],
        "report": [*report, "--out", output],
        "judge": [*judge, "--base-url", url, "--output", output],
    }


@pytest.mark.parametrize("command", ["run", "contamination", "report", "judge"])
def test_an_existing_file_as_the_output_folder_is_one_line(capsys, tmp_path, command):
    """Issue 36: FileExistsError / NotADirectoryError tracebacks."""
    from medbench.core.paths import SAMPLES_DIR
    from tests.servers import ScriptedChat
    from tests.test_judge import _reply

    taken = tmp_path / "taken"
    taken.write_text("a file\n", encoding="utf-8")
    with ScriptedChat([], reply=_reply).serving() as url:
        run = [*RUN, "--data-dir", str(SAMPLES_DIR), "--output", str(taken)]
        args = {"run": run, **_other_commands(tmp_path, url, str(taken))}
        assert main(args[command]) == 2
    assert f"{taken} is a file, not a folder for " in _error_line(capsys)
    assert taken.read_text(encoding="utf-8") == "a file\n"


@pytest.mark.parametrize(
    ("command", "name"),
    [("contamination", "summary.json"), ("report", "leaderboard.md"), ("judge", "summary.json")],
)
def test_a_full_disk_in_contamination_report_and_judge_is_one_line(
    capsys, tmp_path, monkeypatch, command, name
):
    """Issue 36: the OSError of a full disk was a traceback and left the file cut in half."""
    from tests.servers import ScriptedChat
    from tests.test_judge import _reply

    out = tmp_path / "out"
    _fill_the_disk_at(monkeypatch, name)
    with ScriptedChat([], reply=_reply).serving() as url:
        assert main(_other_commands(tmp_path, url, str(out))[command]) == 2
    line = _error_line(capsys)
    assert line.startswith("medbench: error: cannot write ") and line.endswith(
        f"{name}: No space left on device"
    )
    assert not list(out.rglob(name)) and not list(out.rglob(f".{name}*"))  # no half file, no temporary


def test_a_full_disk_under_the_request_cache_is_one_line(tiny_model, tmp_path, monkeypatch, capsys):
    """Issue 36: SQLite's own error for a full disk is no OSError: it was a traceback."""
    import sqlite3

    import medbench.models.requestcache

    def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(medbench.models.requestcache.RequestCache, "__init__", full)
    args = ["run", "--model", tiny_model, "--tasks", "medqa_mcmle", "--limit", "1", "--output", str(tmp_path)]
    from medbench.core.paths import SAMPLES_DIR

    assert main([*args, "--data-dir", str(SAMPLES_DIR)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.endswith("a cache could not be written (database or disk is full); free space, re-run")
