"""Names that come from files never steer a path outside the folders given (issue 24, cases 8-9), and a
received folder with a malformed or hostile file is skipped and listed, never a traceback or the end
of the whole report (issue 24, "Tracebacks" and "Confusing output")."""

from __future__ import annotations

import io
import os
import re
import zipfile
from dataclasses import asdict
from pathlib import Path

import pytest

from medbench.analysis.summary import Score
from medbench.cli.main import main
from medbench.core.errors import MedbenchError
from medbench.run.rundir import RunFolder


def _run(root: Path, model: str, task: str = "ceval_med", acc: float = 0.5) -> Path:
    folder = RunFolder.create(root, model)
    folder.write_json("config.json", {"model": model, "tasks": [task]})
    folder.write_json("model.json", {"weights_sha256": model})
    folder.write_json("status.json", {"complete": True, "n_failed": 0})
    folder.write_json("metrics.json", [asdict(Score(task, "acc", acc, 10, 0.1, ""))])
    (folder.path / "samples").mkdir()
    (folder.path / "samples" / "ceval_med.jsonl").write_text('{"doc_id": 0, "raw": "A"}\n')
    return folder.path


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "task", ["../../escaped", "x/y", "/tmp/abs-task", "t" * 300, "..", ".hidden/../../x", "名字"]
)
def test_a_hostile_task_name_in_a_received_folder_writes_and_reads_nothing_outside(tmp_path, task, capsys):
    runs = tmp_path / "work" / "runs"
    _run(runs, "good")
    bad = _run(runs, "bad", task=task)
    out = tmp_path / "work" / "site"
    outside_before = _files(tmp_path) - _files(runs)
    assert main(["report", str(runs), "--out", str(out), "--no-published"]) == 0
    written = _files(tmp_path) - _files(runs) - outside_before
    assert all(p.is_relative_to(out) for p in written), sorted(written)
    assert not Path("/tmp/abs-task.html").exists()
    listed = (out / "leaderboard.md").read_text(encoding="utf-8")
    assert f"left out: {bad} (unreadable: " in listed and "not a plain name" in listed
    assert "good" in listed  # the rest of the report stands
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("metrics.json", "{not json"),
        ("metrics.json", "[1, 2]"),
        ("model.json", "[1]"),
        ("status.json", '{"complete": "yes"}'),
        ("config.json", '{"tasks": ["ceval_med"], "schema_version": 99}'),
    ],
)
def test_a_malformed_file_skips_its_folder_and_says_so(tmp_path, name, content, capsys):
    runs = tmp_path / "runs"
    _run(runs, "good")
    bad = _run(runs, "bad")
    (bad / name).write_text(content, encoding="utf-8")
    out = tmp_path / "site"
    assert main(["report", str(runs), "--out", str(out), "--no-published"]) == 0
    listed = (out / "leaderboard.md").read_text(encoding="utf-8")
    assert f"left out: {bad} (unreadable: " in listed and re.search(r"\|\s*good\s*\|", listed)
    assert "Traceback" not in capsys.readouterr().err


def test_a_bad_samples_line_is_left_out_of_the_page_not_a_traceback(tmp_path, capsys):
    runs = tmp_path / "runs"
    run = _run(runs, "good")
    (run / "samples" / "ceval_med.jsonl").write_text('{"doc_id": 0, "raw": "A"}\nnot json\n[1]\n"x"\n')
    out = tmp_path / "site"
    assert main(["report", str(runs), "--out", str(out), "--no-published", "--format", "html"]) == 0
    assert (out / "tasks" / "ceval_med.html").is_file()
    assert "Traceback" not in capsys.readouterr().err


def test_a_run_folder_symlinked_into_runs_is_reported(tmp_path):
    runs = tmp_path / "runs"
    _run(runs, "here")
    elsewhere = _run(tmp_path / "elsewhere", "linked", acc=0.25)
    os.symlink(elsewhere, runs / "linked-run")
    os.symlink(runs, runs / "loop")  # a link back up the tree is walked once
    out = tmp_path / "site"
    assert main(["report", str(runs), "--out", str(out), "--no-published", "--format", "csv"]) == 0
    table = (out / "leaderboard.csv").read_text(encoding="utf-8")
    assert "linked" in table and "here" in table and table.count("\n") == 3  # header + 2 rows


def _archive(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def test_an_archive_member_outside_its_folder_is_refused_not_extracted(tmp_path, monkeypatch):
    from medbench.data import hubdata

    monkeypatch.setenv("MEDBENCH_CACHE", str(tmp_path / "cache"))
    archive = tmp_path / "cmmlu.zip"
    archive.write_bytes(_archive({"../../../../X/test/anatomy.csv": b"id,question\n"}))
    mirror = hubdata.Mirror("org/cmmlu", "a" * 40, "test/{subject}.csv", "cmmlu.zip")
    with pytest.raises(MedbenchError, match="points outside"):
        hubdata._extracted(mirror, archive, "test/anatomy.csv", "cmmlu_med_anatomy")
    assert not list(tmp_path.rglob("X"))


def test_a_half_length_archive_is_one_line_naming_the_pull(tmp_path, monkeypatch):
    from medbench.data import hubdata

    monkeypatch.setenv("MEDBENCH_CACHE", str(tmp_path / "cache"))
    data = _archive({"cmmlu/test/anatomy.csv": b"id,question\n" * 50})
    archive = tmp_path / "cmmlu.zip"
    archive.write_bytes(data[: len(data) // 2])
    mirror = hubdata.Mirror("org/cmmlu", "a" * 40, "test/{subject}.csv", "cmmlu.zip")
    with pytest.raises(MedbenchError, match=r"not a readable zip .*medbench data pull"):
        hubdata._extracted(mirror, archive, "test/anatomy.csv", "cmmlu_med_anatomy")


def test_the_report_index_lists_what_was_left_out(tmp_path):
    runs = tmp_path / "runs"
    _run(runs, "good")
    bad = _run(runs, "bad", task="../x")
    out = tmp_path / "site"
    assert main(["report", str(runs), "--out", str(out), "--no-published", "--format", "html"]) == 0
    index = (out / "index.html").read_text(encoding="utf-8")
    assert str(bad) in index and "not a plain name" in index  # listed on the page too


@pytest.mark.parametrize("model_path", ["elsewhere", "m" * 300])
def test_the_report_reads_no_model_folder_a_received_model_json_names(tmp_path, model_path, capsys):
    """Issue 36: the stage plot read the card in the folder model.json's ``path`` names -- outside
    every folder given, and a traceback (file name too long) for a 300-character served name. It now
    reads the card the run recorded in its own folder."""
    import json

    from medbench.report.folders import collect
    from medbench.report.plots import stage_runs

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    card = {"recipe": "planted", "stage": "sft", "base_model": None}
    (outside / "medbench_model_card.json").write_text(json.dumps(card), encoding="utf-8")
    runs = tmp_path / "runs"
    run = _run(runs, "received")
    path = str(outside) if model_path == "elsewhere" else str(tmp_path / model_path)
    (run / "model.json").write_text(json.dumps({"path": path}), encoding="utf-8")
    out = tmp_path / "site"
    assert main(["report", str(runs), "--out", str(out), "--no-published", "--format", "html"]) == 0
    assert stage_runs(collect([str(runs)])[0]) == {}
    assert not list((out / "plots").glob("stages-*")) and "Traceback" not in capsys.readouterr().err
    (run / "model_card.json").write_text(json.dumps(card), encoding="utf-8")  # recorded by the run
    assert list(stage_runs(collect([str(runs)])[0])) == ["planted"]


def _card_naming(model: Path, name: str) -> None:
    """``model``'s card, naming ``name`` as a training file (with that file's real sha256)."""
    import json

    from medbench.core.hashing import sha256_file

    card = model / "medbench_model_card.json"
    record = json.loads(card.read_text()) if card.is_file() else {"stage": "sft"}
    digest = sha256_file(model / name) if (model / name).is_file() else "0" * 64
    record["data_sha256"] = {name: digest}
    card.write_text(json.dumps(record), encoding="utf-8")


@pytest.mark.parametrize("name", ["/etc/os-release", "../secret.txt"])
def test_a_received_card_naming_a_file_outside_its_model_folder_is_refused(tmp_path, capsys, name):
    """Issue 36: a card's data_sha256 key /etc/os-release was read by contamination --model-card and
    by every run of the model. A card names only files inside its model folder."""
    from medbench.core.paths import SAMPLES_DIR

    (tmp_path / "secret.txt").write_text("胃痛怎么办？\n", encoding="utf-8")
    model = tmp_path / "model"
    model.mkdir()
    _card_naming(model, name)
    args = ["contamination", "--model-card", str(model), "--tasks", "cmexam", "--data-dir", str(SAMPLES_DIR)]
    assert main([*args, "--output", str(tmp_path / "out")]) == 2
    assert f"training file {name} is outside the model folder" in capsys.readouterr().err


def test_a_run_does_not_audit_against_a_file_outside_its_model_folder(tmp_path, tiny_model):
    """The run scores as usual and says why there is no audit (contamination.json's skipped)."""
    import json
    import shutil

    from medbench.core.paths import SAMPLES_DIR
    from medbench.run.runner import RunConfig, run

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    _card_naming(model, "/etc/os-release")
    folder, _ = run(
        RunConfig(
            model=str(model), tasks=["cmexam"], limit=2, data_dir=str(SAMPLES_DIR), output=str(tmp_path)
        )
    )
    skipped = json.loads((folder.path / "contamination.json").read_text())["skipped"]
    assert "training file /etc/os-release is outside the model folder" in skipped
