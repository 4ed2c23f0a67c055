"""``medbench report`` over a shared runs folder that holds a killed run, two different models both
called ``final``, two settings of one model, and hostile model names (issue 13 cases 7 and 12, the
report crashes, CSV formula injection)."""

import csv
import json
from dataclasses import asdict

import pytest

from medbench.analysis.summary import Score
from medbench.cli.main import main
from medbench.run.rundir import RunFolder

CALC = "=cmd|' /C calc'!A0"
MATH = "$\\foo$"


def _run(root, model: str, fingerprint: dict, acc: float, limit=None, n_failed=0, tasks=("ceval_med",)):
    folder = RunFolder.create(root, model)
    folder.write_json(
        "config.json", {"model": model, "model_name": None, "tasks": list(tasks), "limit": limit}
    )
    folder.write_json("model.json", fingerprint)
    folder.write_json("status.json", {"complete": not n_failed, "n_failed": n_failed})
    scores = [Score(t, "acc", acc, 10 - n_failed, 0.1, "", n_failed=n_failed) for t in tasks]
    folder.write_json("metrics.json", [asdict(s) for s in scores])
    return folder.path


@pytest.fixture
def shared(tmp_path):
    root = tmp_path / "runs"
    _run(root, "/models/orgA/final", {"weights_sha256": "a" * 64}, 0.30)
    _run(root, "/models/orgB/final", {"weights_sha256": "b" * 64}, 0.70)
    _run(root, "/models/orgC/ckpt", {"weights_sha256": "c" * 64}, 0.40, limit=20)
    _run(root, "/models/orgC/ckpt", {"weights_sha256": "c" * 64}, 0.60, limit=10, tasks=("cmexam",))
    _run(root, CALC, {"api": "x", "model_name": CALC}, 0.50, n_failed=2)
    _run(root, MATH, {"api": "x", "model_name": MATH}, 0.20)
    killed = RunFolder.create(root, "killed")
    killed.write_json("config.json", {"model": "killed", "tasks": ["ceval_med"]})
    return root, killed.path


def test_report_writes_every_output_and_keeps_every_model_and_setting_apart(shared, tmp_path, caplog):
    root, killed = shared
    out = tmp_path / "site"
    assert main(["report", str(root), "--out", str(out), "--no-published"]) == 0
    for name in (
        "leaderboard.md",
        "leaderboard.csv",
        "index.html",
        "plots/ceval_med.png",
        "plots/cmexam.png",
    ):
        assert (out / name).is_file(), name

    rows = {r["model"]: r for r in csv.DictReader((out / "leaderboard.csv").open(encoding="utf-8"))}
    assert rows["orgA/final"]["ceval_med (acc)"] == "30.0" and rows["orgB/final"]["ceval_med (acc)"] == "70.0"
    # one model, two --limit settings: two rows, neither result hidden
    assert (
        rows["ckpt (limit=20)"]["ceval_med (acc)"] == "40.0" and rows["ckpt (limit=20)"]["cmexam (acc)"] == ""
    )
    assert rows["ckpt (limit=10)"]["cmexam (acc)"] == "60.0"
    # no cell can start a formula; the failed items and the incomplete status are in the row
    calc = next(row for row in rows.values() if row["model_id"] == "'" + CALC)
    assert calc["status"] == "incomplete (2 failed)" and calc["ceval_med (acc) excluded"] == "2 failed"
    assert calc["ceval_med (acc) n"] == "8"
    for row in rows.values():
        assert not any(v.startswith(("=", "+", "-", "@")) for v in row.values() if v)

    markdown = (out / "leaderboard.md").read_text(encoding="utf-8")
    calc_line = next(line for line in markdown.splitlines() if "calc" in line)  # the rows table's
    header = next(line for line in markdown.splitlines() if line.startswith("| Model |"))
    assert calc_line.count(" | ") == header.count(" | ")  # the '|' did not add a column
    assert f"left out: {killed} (incomplete: " in markdown
    assert f"report: skipping {killed}" in caplog.text

    page = (out / "index.html").read_text(encoding="utf-8")
    assert "Run folders not reported" in page and str(killed) in page
    assert "$\\foo$" in page and "excluded: 2 failed" in page


def test_models_with_the_same_full_name_but_other_weights_stay_apart(tmp_path):
    from medbench.report.folders import collect

    root = tmp_path / "runs"
    _run(root, "/m/final", {"weights_sha256": "a" * 64}, 0.3)
    _run(root, "/m/final", {"weights_sha256": "b" * 64}, 0.7)
    folders, _ = collect([str(root)])
    labels = sorted(f.model for f in folders)
    assert len(set(labels)) == 2 and all(label.startswith("m/final @") for label in labels)


def test_a_published_number_that_measures_something_else_gets_its_own_column(tmp_path):
    from medbench.report.board import leaderboard
    from medbench.report.build import paper_tables
    from medbench.report.folders import collect

    root = tmp_path / "runs"
    for task, value in (("ceval_med", 0.4), ("ceval_med_gen", 0.3)):
        folder = RunFolder.create(root, f"m-{task}")
        mode = "gen" if task.endswith("_gen") else None
        folder.write_json("config.json", {"model": "/m/qilin", "tasks": [task], "mode": mode})
        folder.write_json("model.json", {"weights_sha256": "q" * 64})
        folder.write_json(
            "metrics.json", [asdict(Score(task, "acc", value, 12, None, "micro (item-weighted)"))]
        )
    runs = [f for f in collect([str(root)])[0] if f.kind == "run"]
    board = leaderboard(runs, with_published=True)
    qilin = board[board["source"] == "reported (Qilin-Med Table 4)"]
    whole = "Average (Qilin-Med: whole C-Eval, 52 subjects)"
    assert qilin[whole].notna().all() and qilin["ceval_med (acc, micro)"].isna().all()
    assert board[board["source"] == "measured"][whole].isna().all()

    _, t4 = paper_tables(runs, with_published=True, only=["qilin_med_table4"])["qilin_med_table4"]
    measured = t4[t4["Source"] == "measured"].set_index("Model")
    assert (
        measured.loc["qilin (mode=default)", "Mode"] == "loglik"
        and measured.loc["qilin (mode=default)", "Average"] == 40
    )
    assert (
        measured.loc["qilin (mode=gen)", "Mode"] == "gen"
        and measured.loc["qilin (mode=gen)", "Average"] == 30
    )
    assert set(t4[t4["Source"] != "measured"]["Convention"]) == {"Average: the whole C-Eval (52 subjects)"}
    assert set(measured["Prompts"]) == {"official"}


def test_the_headline_convention_picks_the_metric_and_the_column_names_it(tmp_path, capsys):
    from medbench.report.board import leaderboard
    from medbench.report.folders import collect

    root = tmp_path / "runs"
    folder = RunFolder.create(root, "m")
    folder.write_json("config.json", {"model": "/m/qilin", "tasks": ["cmexam_explain"]})
    scores = [Score("cmexam_explain", m, v, 8) for m, v in (("rougeL", 0.5), ("rougeL_cmexam", 0.4))]
    folder.write_json("metrics.json", [asdict(s) for s in scores])
    runs = collect([str(root)])[0]

    default = leaderboard(runs, with_published=True)
    assert default["cmexam_explain (rougeL)"].tolist()[0] == 50
    # the paper's numbers (CMExam's scorer) never stand in the sacrebleu-zh column
    assert default[default["source"] != "measured"]["cmexam_explain (rougeL)"].isna().all()

    official = leaderboard(runs, with_published=True, headline={"cmexam_explain": "cmexam-official"})
    column = official["cmexam_explain (rougeL_cmexam)"]
    assert column.tolist()[0] == 40  # measured, under the paper's convention
    reported = official[official["source"] == "reported (Qilin-Med Table 5)"]
    assert reported["cmexam_explain (rougeL_cmexam)"].notna().all()  # beside it: same convention

    assert main(["report", str(root), "--out", str(tmp_path / "o"), "--convention", "nope"]) == 2
    assert "unknown convention 'nope'" in capsys.readouterr().err


def test_the_qilin_med_suite_plan_names_its_headline_convention():
    from medbench.cli.suite import SuiteConfig, plan

    steps = plan(SuiteConfig(suite="qilin_med", model="tiny"))
    assert steps["headline_convention"] == {"cmexam_explain": "cmexam-official"}
    assert "cmexam-official" in steps["conventions"]["cmexam_explain"]


def test_a_folder_from_a_newer_medbench_is_one_line_and_an_old_one_still_reads(tmp_path, capsys):
    from medbench.report.folders import collect

    root = tmp_path / "runs"
    old = _run(root, "/m/old", {"weights_sha256": "a" * 64}, 0.3)  # schema 1: no schema_version
    (folder,) = collect([str(old)])[0]
    assert folder.full_name == "/m/old"
    newer = _run(root, "/m/new", {"weights_sha256": "b" * 64}, 0.5)
    config = json.loads((newer / "config.json").read_text())
    (newer / "config.json").write_text(json.dumps({**config, "schema_version": 99}))
    assert main(["report", str(newer), "--out", str(tmp_path / "site")]) == 2
    assert "written by a newer medbench (schema 99" in capsys.readouterr().err


def test_run_folders_declare_their_schema_version(tmp_path):
    from medbench.run.rundir import SCHEMA_VERSION

    folder = RunFolder.create(tmp_path, "m")
    folder.write_config({"model": "m", "tasks": []})
    assert json.loads((folder.path / "config.json").read_text())["schema_version"] == SCHEMA_VERSION


def test_a_figure_named_after_a_dotted_model_keeps_its_whole_name(tmp_path):
    from medbench.core.plotting import pyplot, save

    fig, _ = pyplot().subplots()
    save(fig, tmp_path / "stages-Qwen2.5-med")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stages-Qwen2.5-med.png", "stages-Qwen2.5-med.svg"]


def test_a_score_or_status_of_the_wrong_shape_is_one_line_naming_the_file(tmp_path, capsys):
    root = tmp_path / "runs"
    bad_score = _run(root, "/m/a", {"weights_sha256": "a" * 64}, 0.3)
    (bad_score / "metrics.json").write_text(
        json.dumps([{"task": "ceval_med", "metric": "acc", "value": "0.3"}])
    )
    assert main(["report", str(bad_score), "--out", str(tmp_path / "site")]) == 2
    err = capsys.readouterr().err
    assert (
        "metrics.json: field value: input should be a valid number (got '0.3'); and 1 more problem(s)" in err
    )
    bad_status = _run(root, "/m/b", {"weights_sha256": "b" * 64}, 0.3)
    (bad_status / "status.json").write_text(json.dumps({"complete": "yes"}))
    assert main(["report", str(bad_status), "--out", str(tmp_path / "site")]) == 2
    assert (
        "status.json: field complete: input should be a valid boolean (got 'yes')" in capsys.readouterr().err
    )


def test_a_bar_in_a_model_name_keeps_its_fingerprint_suffix(tmp_path):
    from medbench.report.folders import collect

    root = tmp_path / "runs"
    _run(root, "org|a/final", {"api": "x", "model_name": "org|a/final"}, 0.3)
    _run(root, "org|a/final", {"api": "x", "model_name": "org|a/final", "served": {"root": "/b"}}, 0.5)
    labels = sorted(f.model for f in collect([str(root)])[0])
    assert all(label.startswith("org|a/final @") and len(label.split("@")[1]) == 8 for label in labels)
    assert labels[0] != labels[1]
