"""`medbench tasks`: every row says where its files lie, how it is split, and its whole description."""

from medbench.data.catalog import describe
from medbench.run.planning import task_manager


def _rows():
    return {row.name: row for row in describe(task_manager())}


def test_every_task_and_group_names_its_data():
    rows = _rows()
    assert [name for name, row in rows.items() if not row.source] == []
    assert (
        rows["huatuo26m"].source
        == "huatuo26m/huatuo26M_test.json (pinned: SupritYoung/Zhongjing@a105934245c2)"
    )
    assert rows["ccks2019_ner"].source == (
        "ccks2019/subtask1_test_set_with_answer.json (pinned: EduKgs/SmartHealthCare_NER@128b9839dcc9)"
    )
    assert rows["chimed_qa"].source == "chimed_qa/test.jsonl"  # licensed: no pin
    assert rows["ceval_med"].source == "ceval/ (its tasks' files)"
    assert "(hub: ceval/ceval-exam@8267189d6ba0)" in rows["ceval_med_physician"].source
    assert "(pinned: Leymore/ceval-test-answer@4dff2b702a52)" in rows["ceval_med_physician"].source
    assert "(pinned: haonan-li/CMMLU@d6e7b716d8ac)" in rows["cmmlu_med_anatomy"].source


def test_fixed_shots_and_whole_descriptions():
    rows = _rows()
    assert rows["ccks2019_ner"].splits == "test (fixed shots from subtask1_training_part1.txt)"
    assert rows["ceval_med_physician"].splits == "val (shots from dev)"
    held_out = rows["ccks2019_ner_train_heldout"].description
    assert held_out.endswith(".") and "TRAINING data" in held_out  # every line of its opening comment
