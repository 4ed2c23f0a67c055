"""Issue 25: one leaderboard. leaderboard.md, leaderboard.csv and index.html are three renderings of the
same board (medbench.report.board.board), so they list the same rows, in the same order, for the same
folders: runs of one model under two settings, a bias folder of a model with no run, and the papers'
published rows (one row per model name, naming every paper table it comes from)."""

from __future__ import annotations

import html
import re
from dataclasses import asdict

import pandas as pd

from medbench.analysis.summary import Score
from medbench.bias.run import BiasConfig, run_bias
from medbench.cli.main import main
from medbench.run.rundir import RunFolder
from tests.servers import ScriptedChat


def _run(root, task: str, acc: float, *, limit=None, metric="acc"):
    folder = RunFolder.create(root, "tiny")
    folder.write_json("config.json", {"model": "tiny", "tasks": [task], "limit": limit})
    folder.write_json("model.json", {"weights_sha256": "t"})
    folder.write_json("status.json", {"complete": True, "n_failed": 0})
    folder.write_json("metrics.json", [asdict(Score(task, metric, acc, 10, 0.1, ""))])


def _markdown_models(text: str) -> list[str]:
    """The models of leaderboard.md's first table (its rows; the group tables follow it)."""
    table = text.split("\n\n")[1]
    lines = [line for line in table.splitlines() if line.startswith("|")][2:]  # after header and rule
    return [re.split(r"(?<!\\)\|", line)[1].strip().replace("\\|", "|") for line in lines]


def _html_models(text: str) -> list[str]:
    body = text.split("<tbody", 1)[1].split("</tbody>", 1)[0]
    cells = re.findall(
        r'<tr class="(?:measured|reported)"><td class="model"[^>]*>(.*?)(?:<small|</td>)', body
    )
    return [html.unescape(cell).strip() for cell in cells]


def test_markdown_csv_and_html_list_the_same_rows_for_the_same_folders(tmp_path):
    runs = tmp_path / "runs"
    _run(runs, "medqa_mcmle", 0.5, limit=4)
    _run(runs, "medqa_mcmle", 0.25, limit=8)
    with ScriptedChat([], reply="完全同意").serving() as url:
        run_bias(
            BiasConfig(
                scale="cami",
                model="other|model",  # a row of its own (no run of this model); a | in its name
                backend="openai",
                output=str(runs),
                backend_options={"model_name": "other|model", "base_url": url},
            )
        )
    out = tmp_path / "site"
    assert main(["report", str(runs), "--out", str(out)]) == 0

    csv = pd.read_csv(out / "leaderboard.csv")["model"].tolist()
    markdown = _markdown_models((out / "leaderboard.md").read_text(encoding="utf-8"))
    page = _html_models((out / "index.html").read_text(encoding="utf-8"))
    assert csv == markdown == page
    assert sum("tiny" in m for m in csv) == 2 and any(m.startswith("other|model") for m in csv)
    assert "ChiMed-GPT" in csv and csv.count("ChiMed-GPT") == 1  # published: one row per model name


def test_a_published_row_names_every_paper_table_it_merges(tmp_path):
    runs = tmp_path / "runs"
    _run(runs, "medqa_mcmle", 0.5)
    _run(runs, "ccks2019_ner", 0.5, metric="f1")
    out = tmp_path / "site"
    assert main(["report", str(runs), "--out", str(out), "--format", "csv"]) == 0
    board = pd.read_csv(out / "leaderboard.csv")
    (chimed,) = board[board["model"] == "ChiMed-GPT"]["source"]
    assert chimed == "reported (ChiMed-GPT Table 4; ChiMed-GPT Table 5)"


def test_two_runs_differing_in_one_setting_and_a_bias_run_make_two_labelled_rows_one_with_bias(
    tmp_path, tiny_model
):
    """Issue 39: one model showed as three rows (``dpo (bias)``, ``dpo (mode=default)``, ``dpo
    (mode=gen)``): the bias run kept a row of its own beside the model's two. Two labels that differ by
    the one setting that tells the runs apart, and the bias column in one of them; cells that hold no
    number say why."""
    from medbench.core.paths import SAMPLES_DIR
    from medbench.run.runner import RunConfig, run

    runs = tmp_path / "runs"
    common = dict(
        model=tiny_model, tasks=["medqa_mcmle"], data_dir=str(SAMPLES_DIR), output=str(runs), limit=2
    )
    run(RunConfig(**common))
    run(RunConfig(**common, shots=0))
    run(RunConfig(**{**common, "tasks": ["cmexam_official"]}, shots=0))
    run_bias(BiasConfig(scale="cami", model=tiny_model, output=str(runs)))
    out = tmp_path / "site"
    assert main(["report", str(runs), "--out", str(out), "--no-published"]) == 0
    board = pd.read_csv(out / "leaderboard.csv")
    labels = board["model"].tolist()
    assert len(labels) == 2 and len(set(labels)) == 2, labels
    assert {label.split(" (", 1)[1] for label in labels} == {"shots=0)", "shots=default)"}, labels
    bias = [c for c in board.columns if c.startswith("CAMI")]
    assert bias and board[bias[0]].notna().sum() == 1, board.to_dict("records")
    text = (out / "leaderboard.md").read_text(encoding="utf-8")
    assert "0 items answered" in text and "n=0" not in text  # a statement, not a bare "n=0"
    (cami,) = re.findall(r"\| (\S+) \[(\S+), (\S+)\] n=40 \|", text)  # its interval can be seen
    assert len(set(cami)) == 3, cami
    page = (out / "index.html").read_text(encoding="utf-8")
    assert (
        '<small class="why">not run</small>' in page and '<small class="why">0 items answered</small>' in page
    )


def test_a_task_scored_again_by_a_later_run_counts_once_in_the_contamination_cell(tmp_path):
    """Attacker finding (issue 39): the row's contamination cell summed every task of each run's
    clean.json, so a task a later run scored again counted twice ('6 of 15', the row showing 12)."""
    from medbench.report.board import board
    from medbench.report.folders import collect

    def audited(stamp: str, tasks: dict[str, tuple[int, int]]) -> None:
        folder = RunFolder.create(tmp_path / "runs", "tiny")
        folder.path = folder.path.rename(folder.path.with_name(f"{stamp}-tiny"))
        folder.write_json("config.json", {"model": "tiny", "tasks": list(tasks)})
        folder.write_json("model.json", {"weights_sha256": "t"})
        folder.write_json("status.json", {"complete": True, "n_failed": 0})
        folder.write_json(
            "metrics.json", [asdict(Score(t, "acc", 0.5, n, 0.1, "")) for t, (n, _) in tasks.items()]
        )
        record = {"audit": "a", "sha256": "0" * 64, "source": "--exclude-contaminated"}
        record["tasks"] = {
            t: {"scored": n, "flagged_left_out": f, "clean": n - f} for t, (n, f) in tasks.items()
        }
        folder.write_json("clean.json", record)

    audited("20260101-000000", {"ceval_med": (9, 0), "medqa_mcmle": (3, 3)})
    audited("20260101-000100", {"medqa_mcmle": (3, 3)})
    folders, _ = collect([str(tmp_path / "runs")])
    (row,) = board(folders, with_published=False).rows
    assert row.contamination == "3 of 12 scored items flagged (--exclude-contaminated audit)", (
        row.contamination
    )


def test_bias_runs_of_other_settings_keep_rows_of_their_own(tmp_path):
    """Attacker finding (issue 39): a second bias run (options reversed) was put on a row of unrelated
    run settings; bias runs that differ keep their own rows, named by what differs."""
    from medbench.report.board import board
    from medbench.report.folders import collect

    with ScriptedChat([], reply="完全同意").serving() as url:
        for order in ("as-is", "reversed"):
            options = {"model_name": "served", "base_url": url}
            run_bias(
                BiasConfig(
                    scale="cami",
                    model="served",
                    backend="openai",
                    output=str(tmp_path / "runs"),
                    backend_options=options,
                    option_order=order,
                )
            )
    folders, _ = collect([str(tmp_path / "runs")])
    labels = [r.model for r in board(folders, with_published=False).rows]
    assert any("option_order=reversed" in label for label in labels), labels
