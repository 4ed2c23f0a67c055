"""The leaderboard page puts a score only in a row whose settings it comes from, keeps an incomplete
model's row, and a re-run that completed supersedes its failed first run (issue 24, case 14 and
"Confusing output"); every measured row of a paper table says what it rests on (case 15)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from medbench.analysis.summary import Score
from medbench.cli.main import main
from medbench.report.board import board, leaderboard
from medbench.report.build import paper_tables
from medbench.report.folders import collect
from medbench.run.rundir import RunFolder


def _run(root, task: str, acc: float | None, *, limit=None, mode=None, n=10, failed=0, stamp=""):
    folder = RunFolder.create(root, "tiny")
    if stamp:  # the order runs were made in (folder names begin with their time)
        folder.path = folder.path.rename(folder.path.with_name(f"{stamp}-tiny"))
    config = {"model": "tiny", "tasks": [task], "limit": limit, "mode": mode}
    folder.write_json("config.json", config)
    folder.write_json("model.json", {"weights_sha256": "t"})
    folder.write_json("status.json", {"complete": not failed, "n_failed": failed})
    folder.write_json("metrics.json", [asdict(Score(task, "acc", acc, n - failed, 0.1, "", n_failed=failed))])
    return folder.path


def _cells(rows):
    return {row.model: {k: c.value for k, c in row.cells.items()} for row in rows}


def test_a_score_never_lands_in_a_row_of_other_settings(tmp_path):
    _run(tmp_path, "ceval_med", 0.5, limit=16)
    _run(tmp_path, "ceval_med_gen", 0.0, limit=3, mode="gen", n=9)
    folders, _ = collect([str(tmp_path)])
    cells = _cells(board(folders, with_published=False).rows)
    assert len(cells) == 2, cells
    (sixteen,) = [c for label, c in cells.items() if "limit=16" in label]
    (three,) = [c for label, c in cells.items() if "limit=3" in label]
    assert list(sixteen) == ["ceval_med (acc)"] and list(three) == ["ceval_med_gen (acc)"]


def test_an_incomplete_model_keeps_its_row_marked(tmp_path):
    _run(tmp_path, "ceval_med", None, failed=10)
    folders, _ = collect([str(tmp_path)])
    (row,) = board(folders, with_published=False).rows
    assert row.status.startswith("incomplete") and row.cells["ceval_med (acc)"].value is None


def test_a_completed_rerun_supersedes_its_failed_first_run(tmp_path):
    _run(tmp_path, "ceval_med", 0.5, failed=5, stamp="20260101-000000")
    _run(tmp_path, "ceval_med", 0.6, stamp="20260101-000100")
    folders, _ = collect([str(tmp_path)])
    table = leaderboard([f for f in folders if f.kind == "run"])
    assert list(table["status"]) == ["complete"] and list(table["ceval_med (acc)"]) == [60.0]
    (row,) = board(folders, with_published=False).rows
    assert row.status == "complete" and row.cells["ceval_med (acc)"].value == 60.0


def test_paper_table_rows_state_their_items_and_limit(tmp_path):
    _run(tmp_path, "medqa_mcmle", 0.0, limit=5, n=5)
    folders, _ = collect([str(tmp_path)])
    tables = paper_tables([f for f in folders if f.kind == "run"], with_published=True)
    measured = [df[df["Source"] == "measured"] for _, df in tables.values()]
    rows = pd.concat([m for m in measured if len(m)])
    assert set(rows["Items"]) == {"5 (--limit 5)"}
    out = tmp_path / "site"
    assert main(["report", str(tmp_path), "--out", str(out), "--format", "md"]) == 0
    assert any("5 (--limit 5)" in p.read_text() for p in (out / "tables").glob("*.md"))


def test_a_row_shows_each_tasks_scores_from_one_run_whatever_the_order(tmp_path):
    """Issue 36: acc from a newer run sat beside clean_acc from an older, audited one, and the
    contamination marker came and went with the order the folders were given in."""
    old = _run(tmp_path, "ceval_med", 0.5, stamp="20260101-000000")
    clean = asdict(Score("ceval_med", "clean_acc", 0.3, 6, None, ""))
    scores = json.loads((old / "metrics.json").read_text(encoding="utf-8"))
    (old / "metrics.json").write_text(json.dumps([*scores, clean]), encoding="utf-8")
    record = {"audit": "a", "sha256": "0" * 64, "source": "model card"}
    record["tasks"] = {"ceval_med": {"scored": 10, "flagged_left_out": 4, "clean": 6}}
    (old / "clean.json").write_text(json.dumps(record), encoding="utf-8")
    new = _run(tmp_path, "ceval_med", 0.6, stamp="20260101-000100")
    for order in ([old, new], [new, old]):
        folders, _ = collect([str(p) for p in order])
        (row,) = board(folders, with_published=False).rows
        assert _cells([row]) == {"tiny": {"ceval_med (acc)": 60.0}}
        assert row.contamination == "" and not row.contaminated


def test_a_report_goes_beside_the_runs_never_into_the_working_folder(tmp_path, monkeypatch, capsys):
    """Issue 39: `medbench report runs` wrote into reports/site of the working folder (the source tree
    in a clone, not ignored); it goes to runs/report unless --out says otherwise."""
    runs = tmp_path / "runs"
    _run(runs, "ceval_med", 0.5)
    work = tmp_path / "clone"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["report", str(runs)]) == 0
    assert (runs / "report" / "leaderboard.md").is_file() and list(work.iterdir()) == []
    assert f"report written to {runs / 'report'}" in capsys.readouterr().out
    assert main(["report", str(runs)]) == 0  # the report folder is not taken for a run
    (single,) = [p for p in runs.iterdir() if p.name != "report"]
    assert main(["report", str(single)]) == 0 and (runs / "report" / "index.html").is_file()


def test_a_cell_keeps_enough_digits_for_its_interval_to_be_seen():
    """Issue 39: the CAMI score 3.008 [2.97, 3.04] showed as '3.0 [3.0, 3.0]'."""
    from medbench.report.board import Cell
    from medbench.report.html import _environment

    macro = _environment().from_string('{% import "_macros.html.j2" as m %}{{ m.score(cell) }}')
    assert "3.01</a>" in macro.render(cell=Cell(3.008, 2.97, 3.04, 40, link="#bias"))
    assert "[2.97, 3.04] · n=40" in macro.render(cell=Cell(3.008, 2.97, 3.04, 40, link="#bias"))
    assert "[23.1, 88.2] · n=5" in macro.render(cell=Cell(60.0, 23.07, 88.24, 5))


def test_leaderboard_md_is_one_table_per_benchmark_group_within_160_characters(tmp_path):
    """Issue 39: leaderboard.md was one table of 196 columns, 7,481 characters a line."""
    subjects = ["anatomy", "clinical_knowledge", "college_medicine", "genetics", "nutrition", "virology"]
    for acc, limit in ((0.5, 16), (0.25, 8)):
        folder = Path(_run(tmp_path / "runs", "cmmlu_med", acc, limit=limit))
        scores = [asdict(Score(f"cmmlu_med_{s}", "acc", acc, 10, None, "")) for s in subjects]
        scores = [{**s, "ci_low": 0.1, "ci_high": 0.9} for s in scores]
        scores.append(asdict(Score("ceval_med_physician", "acc", acc, 9, None, "", n_failed=1)))
        (folder / "metrics.json").write_text(json.dumps(scores), encoding="utf-8")
    assert main(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "site")]) == 0
    text = (tmp_path / "site" / "leaderboard.md").read_text(encoding="utf-8")
    assert max(len(line) for line in text.splitlines()) <= 160, text
    assert "## CMMLU (1)" in text and "## CMMLU (2)" in text and "## C-Eval" in text
    assert "25 [10, 90] n=10" in text and "(1 failed excluded)" in text
