"""The generated-answer extraction table: one test per pattern, and the traps that fool naive regexes."""

import pytest

from medbench.extract import PATTERNS, UNPARSED, extract_choice

ABCDE = list("ABCDE")


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("答案：C", "C"),
        ("答案是B", "B"),
        ("答案为D。", "D"),
        ("正确答案应该是 A", "A"),
        ("The answer is E.", "E"),
        ("Answer: B", "B"),
        ("选C", "C"),
        ("我认为应选择D项", "D"),
        ("A是正确的", "A"),
        ("B项正确，其余错误", "B"),
        ("E", "E"),
        ("B. 能泄、能坚", "B"),
        ("（C）", "C"),
    ],
)
def test_each_pattern_extracts_the_committed_letter(reply, expected):
    assert extract_choice(reply, ABCDE) == expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("答案：A、C", "AC"),
        ("答案：ACD\n解释：三者均是", "ACD"),
        ("答案是B，D", "BD"),
        ("答案：C、A", "AC"),  # compared as a set: order does not matter
    ],
)
def test_multi_letter_answers_are_sets(reply, expected):
    assert extract_choice(reply, ABCDE) == expected


def test_full_width_letters_and_colon_are_folded():
    assert extract_choice("答案：Ｂ", ABCDE) == "B"


def test_lets_is_not_the_letter_l_and_english_words_are_not_letters():
    assert extract_choice("Let's think step by step.", list("ABCDEFGHIJKL")) == UNPARSED
    assert extract_choice("Based on the symptoms, it is unclear.", ABCDE) == UNPARSED
    assert extract_choice("A patient with fever", ABCDE) == UNPARSED


def test_negated_choice_is_not_the_answer():
    assert extract_choice("不选A", ABCDE) == UNPARSED
    assert extract_choice("不选A，应选B", ABCDE) == "B"


def test_letter_outside_the_options_is_unparsed():
    assert extract_choice("答案：E", list("ABCD")) == UNPARSED


def test_first_pattern_in_priority_wins_over_later_mentions():
    assert extract_choice("答案：A\n解释：选B是错误的", ABCDE) == "A"


def test_quoting_exactly_one_option_text_is_the_last_resort():
    options = [["A", "能补、能缓"], ["B", "能泄、能坚"]]
    assert extract_choice("甘味的特点是能补、能缓", ["A", "B"], options) == "A"
    assert extract_choice("能补、能缓还是能泄、能坚？", ["A", "B"], options) == UNPARSED


@pytest.mark.parametrize("reply", ["", "   ", "我不知道", "。。。。"])
def test_replies_without_an_answer_are_unparsed(reply):
    assert extract_choice(reply, ABCDE) == UNPARSED


def test_the_table_is_ordered_and_named():
    names = [name for name, _ in PATTERNS]
    assert names[0].startswith("答案") and names[-1] == "bare letters"
