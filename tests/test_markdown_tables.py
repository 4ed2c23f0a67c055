"""Issue 25: every Markdown table medbench writes goes through one escaping helper
(medbench.core.safe_cells), so a task, model or dimension name holding ``|`` cannot add a column."""

from __future__ import annotations

import re

import pytest

from medbench.analysis.summary import Score
from medbench.core.safe_cells import markdown_lines

HOSTILE = "evil|name"


def _columns(line: str) -> int:
    return len(re.split(r"(?<!\\)\|", line)) - 2


def _tables_hold_their_shape(text: str) -> None:
    table: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            table.append(line)
            continue
        if table:
            assert len({_columns(row) for row in table}) == 1, table
            table = []
    assert HOSTILE.replace("|", "\\|") in text


def test_the_run_results_table():
    from medbench.analysis.summary import markdown_table

    _tables_hold_their_shape(markdown_table([Score(HOSTILE, "acc", 0.5, 10, 0.1)]))


def test_the_judge_summary_table():
    from medbench.judge.present import markdown

    stats = {
        "rates": {"win": 0.5, "tie": 0.25, "loss": 0.25},
        "ci95": None,
        "judged": 4,
        "items": 4,
        "position_consistency": 1.0,
        "parse_failures": 0,
        "request_errors": 0,
        "mean_score": {"a": 2.0, "b": 1.0},
    }
    summary = {
        "model_a": "a",
        "model_b": "b",
        "task": "t",
        "rubric": "r",
        "order": "both",
        "dimensions": {HOSTILE: stats},
        "usage": {
            "requests": 1,
            "cached": 0,
            "prompt_tokens": 1,
            "completion_tokens": 1,
            "estimated_cost": 0.0,
        },
    }
    _tables_hold_their_shape(markdown(summary))


def test_the_task_catalog():
    from medbench.data.catalog import TaskInfo, markdown

    _tables_hold_their_shape(markdown([TaskInfo(HOSTILE, "task", "d|e", "", "", "", "", "")]))


def test_the_demo_stage_table(tmp_path):
    from medbench.cli.demo import comparison_table

    results = {HOSTILE: [Score("ceval_med", "acc", 0.3, 10, None, "micro (item-weighted)")]}
    _tables_hold_their_shape(comparison_table(results, {"sft": {"heldout": {}}}, {HOSTILE: tmp_path}))


def test_a_table_needs_one_alignment_per_column():
    with pytest.raises(ValueError, match="one letter per column"):
        markdown_lines(["a", "b"], [], "l")


def test_medbench_tasks_fits_a_terminal(capsys):
    """Issue 39: `medbench tasks` was 742 characters wide; its table now fits, the long columns wrap."""
    from medbench.cli.main import main

    assert main(["tasks"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 200
    assert lines[0] == "| Name | Kind | Split | Items | Shots | Metrics |"
    assert any(line.startswith("- ccks2019_ner: CCKS-2019") for line in lines)
