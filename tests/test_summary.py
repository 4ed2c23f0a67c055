"""Group scores: micro (item-weighted, lm-eval's) and macro (subject mean, CMMLU's official) side by side."""

import pytest

from medbench.analysis.summary import combine_repeats, markdown_table, summarise

RESULTS = {
    "results": {
        "grp": {"alias": "grp", "acc,none": 0.7, "acc_stderr,none": 0.1},
        "t1": {"alias": "t1", "acc,none": 1.0, "acc_stderr,none": 0.0},
        "t2": {"alias": "t2", "acc,none": 0.4, "acc_stderr,none": 0.2},
        "lone": {"alias": "lone", "acc,extract": 0.25, "parse_fail_rate,extract": 0.5},
    },
    "group_subtasks": {"grp": ["t1", "t2"], "t1": [], "t2": [], "lone": []},
    "n-samples": {
        "t1": {"original": 2, "effective": 2},
        "t2": {"original": 5, "effective": 5},
        "lone": {"original": 4, "effective": 4},
    },
}


def test_group_reports_micro_then_macro_then_its_tasks():
    scores = summarise(RESULTS)
    rows = [(s.task, s.metric, s.convention, s.n) for s in scores]
    assert rows[:4] == [
        ("grp", "acc", "micro (item-weighted)", 7),
        ("grp", "acc", "macro (2 subjects)", 7),
        ("t1", "acc", "", 2),
        ("t2", "acc", "", 5),
    ]
    assert scores[1].value == pytest.approx((1.0 + 0.4) / 2)
    assert {(s.task, s.metric) for s in scores[4:]} == {("lone", "acc"), ("lone", "parse_fail_rate")}


def test_repeats_average_and_keep_each_value():
    a, b = summarise(RESULTS), summarise(RESULTS)
    b[2].value = 0.0
    combined = combine_repeats([a, b])
    assert combined[2].value == pytest.approx(0.5) and combined[2].values == [1.0, 0.0]
    assert "| t1 | 2 | 0 | 50.00 ± 70.71 |" in markdown_table(combined)


def test_the_mean_of_repeats_carries_their_spread_not_one_repeats_interval():
    """Issue 36 (found by the attacker): acc 50 was shown with repeat 0's interval [56.55, 100]."""
    a, b = summarise(RESULTS), summarise(RESULTS)
    a[2].ci_low, a[2].ci_high, a[2].ci_method = 0.5655, 1.0, "wilson"
    b[2].value = 0.0
    (combined,) = [s for s in combine_repeats([a, b]) if s.task == a[2].task and s.metric == a[2].metric]
    assert combined.value == pytest.approx(0.5) and (combined.ci_low, combined.ci_high) == (None, None)
    assert combine_repeats([a])[2].ci_low == 0.5655  # one run keeps its own interval
