"""Issue 36: the arena's intervals and ranks say only what its games show: three models whose every
game is a tie share rank 1 with no zero-width interval; models the intervals cannot tell apart share
a rank."""

from __future__ import annotations

from medbench.analysis.intervals import DEGENERATE
from medbench.judge import JudgeConfig
from medbench.judge.arena import ranks, run_arena
from tests.servers import ScriptedChat
from tests.test_judge import _run_folder


def test_three_models_that_always_tie_share_rank_1_with_no_zero_width_interval(tmp_path):
    runs = [_run_folder(tmp_path, f"run-{m}", f"{m}答") for m in "ABC"]
    with ScriptedChat([], reply="Tie").serving() as url:
        config = JudgeConfig(
            runs=runs,
            rubric="iimedgpt_pf",
            judge_model="j",
            base_url=url,
            lang="en",
            output=str(tmp_path / "o"),
        )
        folder, summary = run_arena(config, bootstrap=20)
    assert [r["rank"] for r in summary["ranking"]] == [1, 1, 1]
    assert all(r["ci95"] is None and r["ci_note"] == DEGENERATE for r in summary["ranking"])
    results = (folder.path / "results.md").read_text(encoding="utf-8")
    assert results.count("| 1 |") == 3 and "| 2 |" not in results


def test_a_model_ranks_below_only_the_models_whose_interval_lies_wholly_above_its_own():
    point = [1100.0, 1050.0, 900.0]
    cis = [[1060.0, 1140.0], [1000.0, 1090.0], [850.0, 950.0]]
    assert ranks(point, cis) == [1, 1, 3]
    # without intervals (a degenerate resample, found by the attacker: ranked 1, 2, 3) no order
    assert ranks(point, [None, None, None]) == [1, 1, 1]
