"""Training data validation: every rejection names file and line; rankings expand as each paper did."""

import json

import pytest

from medbench.core.errors import MedbenchError
from medbench.train.data import preference_pairs, sft_examples, texts


def _write(tmp_path, rows, name="data.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return str(path)


GOOD_SFT = {
    "instruction": "假设你是一名医生，请回答患者的问题。",
    "input": "头痛怎么办？",
    "output": "注意休息。",
}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"instruction": "x", "output": "y"}, "line 2: missing field 'input'"),
        ({"instruction": "x", "input": "q", "output": "  "}, "line 2: empty response"),
        (
            {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": ""}]},
            "line 2: empty response",
        ),
    ],
)
def test_bad_sft_records_are_rejected_with_file_and_line(tmp_path, bad, message):
    path = _write(tmp_path, [GOOD_SFT, bad])
    with pytest.raises(MedbenchError, match=message) as err:
        sft_examples(path)
    assert str(tmp_path) in str(err.value)


def test_sft_formats_become_prompt_and_completion_messages(tmp_path):
    path = _write(
        tmp_path,
        [
            GOOD_SFT,
            {**GOOD_SFT, "history": [["发烧了", "多少度？"]]},
            {"messages": [{"role": "user", "content": "咳嗽"}, {"role": "assistant", "content": "多喝水。"}]},
        ],
    )
    plain, multi, chat = sft_examples(path)
    assert plain["prompt"] == [
        {"role": "user", "content": "假设你是一名医生，请回答患者的问题。头痛怎么办？"}
    ]
    assert plain["completion"] == [{"role": "assistant", "content": "注意休息。"}]
    assert [m["role"] for m in multi["prompt"]] == ["user", "assistant", "user"]
    assert (
        multi["prompt"][0]["content"].startswith("假设你是一名医生")
        and multi["prompt"][-1]["content"] == "头痛怎么办？"
    )
    assert chat["completion"][0]["content"] == "多喝水。"


def test_a_pair_whose_chosen_equals_rejected_is_rejected(tmp_path):
    path = _write(
        tmp_path,
        [{"prompt": "p", "chosen": "a", "rejected": "b"}, {"prompt": "p", "chosen": "a", "rejected": "a"}],
    )
    with pytest.raises(MedbenchError, match="line 2: chosen equals rejected"):
        preference_pairs(path)


def test_a_ranking_with_fewer_than_two_responses_is_rejected(tmp_path):
    path = _write(tmp_path, [{"prompt": "p", "responses": ["only one"]}])
    with pytest.raises(MedbenchError, match="line 1: a ranking needs at least 2 responses"):
        preference_pairs(path)


def test_a_pair_missing_a_field_is_rejected(tmp_path):
    path = _write(tmp_path, [{"prompt": "p", "chosen": "a"}])
    with pytest.raises(MedbenchError, match="line 1: missing field 'rejected'"):
        preference_pairs(path)


def test_rankings_expand_to_adjacent_pairs_or_all_pairs(tmp_path):
    path = _write(tmp_path, [{"prompt": "p", "responses": ["r1", "r2", "r3", "r4"]}])
    adjacent = [
        (p["chosen"][0]["content"], p["rejected"][0]["content"]) for p in preference_pairs(path, "adjacent")
    ]
    everything = [
        (p["chosen"][0]["content"], p["rejected"][0]["content"]) for p in preference_pairs(path, "all")
    ]
    assert adjacent == [("r1", "r2"), ("r2", "r3"), ("r3", "r4")]  # ChiMed-GPT: K-1 pairs
    assert len(everything) == 6 and ("r1", "r4") in everything  # Zhongjing: C(4,2)
    assert all(a < b for a, b in everything)  # the better-ranked reply is always chosen


def test_pretraining_text_reads_lines_or_text_records(tmp_path):
    (tmp_path / "c.txt").write_text("第一篇。\n\n第二篇。\n", encoding="utf-8")
    assert texts(str(tmp_path / "c.txt")) == ["第一篇。", "第二篇。"]
    assert texts(_write(tmp_path, [{"text": "甲"}, {"text": ""}])) == ["甲"]
