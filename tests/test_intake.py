"""Issue 25: one row contract for every loader (medbench/data/intake.py). Each row is kept or skipped with
its file, row, reason and position (items kept before it), and MC, generation and NER benchmarks
without data say so in the same words."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from medbench.core.errors import MedbenchError
from medbench.data import datareport
from medbench.data.intake import Intake


def test_a_row_is_kept_or_skipped_with_why_and_where():
    kept = {}

    @datareport.task_data
    def hook(*, report, **_):  # a hook is handed its report and gives it to its intake
        kept["intake"] = Intake("toy", "test", report)
        return SimpleNamespace()

    data = hook()
    intake = kept["intake"]
    assert intake.admit("f.jsonl", 1, None, "a", {"q": 1})
    intake.keep()
    assert not intake.admit("f.jsonl", 2, "options: expected an object", "b", {"q": 2})
    assert not intake.admit("f.jsonl", 3, None, "a", {"q": 3})  # its id again
    assert not intake.admit("f.jsonl", 4, None, None, {"q": 1})  # its content again
    assert intake.admit("f.jsonl", 5, None, "c", {"q": 5})
    intake.keep()
    assert [(s.row, s.kind, s.position) for s in intake.skipped] == [
        (2, "malformed", 1),
        (3, "duplicate", 1),
        (4, "duplicate", 1),
    ]
    assert intake.skipped[1].reason == "duplicate id 'a' (first at row 1)"
    assert intake.skipped[2].reason == "duplicate of row 1"
    intake.report()
    assert [str(s) for s in data.report.skipped] == [str(s) for s in intake.skipped]


@pytest.mark.parametrize("task", ["mc_dialogue", "chimed_qa", "chimst_ner"])
def test_every_kind_of_benchmark_without_data_says_the_same_line(monkeypatch, task):
    from medbench.data.catalog import load_task_data
    from medbench.run.planning import task_manager

    monkeypatch.delenv("MEDBENCH_DATA", raising=False)
    with pytest.raises(MedbenchError) as error:
        load_task_data(task_manager(), task, {})
    pattern = (
        rf"{task.removesuffix('_ner')}: no local data\. Put \S+.* under a folder and pass "
        r"--data-dir DIR \(or set MEDBENCH_DATA\)"
    )
    assert re.fullmatch(pattern + r"(; this benchmark has no pinned public mirror)?", str(error.value))


@pytest.mark.parametrize("task", ["cmexam", "medqa_mcmle", "huatuo26m", "ccks2019_ner"])
def test_a_pinned_benchmark_not_pulled_offline_names_the_pull(monkeypatch, tmp_path, task):
    from medbench.data.catalog import load_task_data
    from medbench.run.planning import task_manager

    monkeypatch.delenv("MEDBENCH_DATA", raising=False)
    monkeypatch.setenv("MEDBENCH_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        MedbenchError, match=r"not pulled and HF_HUB_OFFLINE is set; run `medbench data pull --tasks "
    ):
        load_task_data(task_manager(), task, {})
