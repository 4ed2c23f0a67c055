"""The generated-answer extraction table: one test per pattern, and the traps that fool naive regexes."""

import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medbench.scoring.extract import PATTERNS, UNPARSED, extract_choice

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


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("答案：A或B", UNPARSED),
        ("答案是C或D", UNPARSED),
        ("选项A或者选项B", UNPARSED),
        ("The answer is A or B", UNPARSED),
        ("答案是A还是B，难以确定", UNPARSED),
        ("答案是A或B……不对，答案是C", "C"),  # a later answer after the hedge commits
        ("答案：B或者C都不对，答案是D", "D"),
        ("答案：A。或许B也对", "A"),  # a sentence later is not an alternative offered for the answer
        ("答案：A或选B", UNPARSED),
        ("选A或选B", UNPARSED),  # the second choice is the hedge's, not a correction
        ("**A** or **B**", UNPARSED),
        ("\\boxed{A}或\\boxed{B}", UNPARSED),
        ("A或B是正确的", UNPARSED),  # seen from the second letter's side
        ("答案：A。或者说，A是正确的", "A"),
        ("答案：A，因为B或C均错误", "A"),
        ("答案：A或B超检查可确诊", "A"),  # B超 (ultrasound), B型血, CT, ECG: words, not options
        ("答案是A或者B型血", "A"),
        ("答案：C或CT检查", "C"),
        ("答案：E还是ECG", "E"),
        ("The answer is B or I think so", "B"),  # I is no option here
    ],
)
def test_an_answer_offered_with_an_alternative_commits_to_none(reply, expected):
    assert extract_choice(reply, ABCDE) == expected


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
    assert names[0] == "\\boxed{X}" and names[1].startswith("答案") and names[-1] == "bare letters"


# ---- long answers of reasoning and chat models (issue 17) ---------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("答案是A……不对，答案是C", "C"),  # self-correction: the final answer
        ("答案：AB。再核对一遍，更正：答案：ACD", "ACD"),  # multi-answer CMExam item, corrected
        ("Answer: C\n\nWait, let me re-check. Answer: D", "D"),
        ("所以最终选 \\boxed{C}", "C"),
        ("\\boxed{\\text{B}}", "B"),
        ("答案选A？其实 \\boxed{D}", "D"),  # boxed outranks every other pattern
        ("正确的是 **C**", "C"),
        ("**选项B**", "B"),
        ("答案是(C)", "C"),
        ("答案是（Ｄ）", "D"),  # full-width brackets and letter fold
        ("The answer is (D).", "D"),
        ("The correct answer should be B", "B"),
        ("选项C", "C"),
    ],
)
def test_long_answers_commit_to_their_final_letter(reply, expected):
    assert extract_choice(reply, ABCDE) == expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("答案：A\n解释：选B是错误的", "A"),  # a later, lower pattern never overrides a higher one
        ("答案是A，不是B", "A"),  # a rejected letter after the answer is not an answer
        ("**注意**：答案：B", "B"),  # bold words are not letters
        ("答案：E。答案：B", "B"),  # a letter outside the options is skipped, the valid final kept
    ],
)
def test_final_answer_traps(reply, expected):
    assert extract_choice(reply, list("ABCD")) == expected


# ---- linear time, whatever the reply (issue 13, case 11) --------------------------------------


#: every extraction must finish within this many seconds on a 10 KB reply (linear patterns take ms;
#: the backtracking ones took minutes on 16 listed letters)
BUDGET = 0.5


def _adversarial_replies() -> dict[str, str]:
    rng = random.Random(13)
    letters = "".join(f"{rng.choice('ABCDEFGH')} \n" for _ in range(3400))
    return {
        "listed letters (SmolLM2 on CMExam)": letters,
        "listed letters then no verdict": letters + "以上都不",
        "letters with separators": "A、B、" * 2500,
        "letters and spaces": "A " * 5000,
        "answer cue then spaces": "答案" + " " * 10000,
        "answer cues": "答案是 " * 2500,
        "choose cues": "选 " * 5000,
        "english cues": "answer is " * 1000,
        "one capital word": "A" * 10000,
        "mixed": "".join(rng.choice("ABCD 、，是正确答案选\n") for _ in range(10000)),
    }


@pytest.mark.parametrize("name", list(_adversarial_replies()))
def test_adversarial_10kb_replies_extract_within_a_fixed_budget(name):
    reply = _adversarial_replies()[name]
    assert len(reply) >= 9000
    started = time.perf_counter()
    result = extract_choice(reply, list("ABCD"))
    assert time.perf_counter() - started < BUDGET, name
    assert result == UNPARSED or set(result) <= set("ABCD")


def test_the_smollm2_reply_that_hung_a_run_now_parses_in_time():
    reply = "".join(f"{letter} \n" for letter in "ABCDEFGHABCDEFGH")  # 16 letters: 58.7 s before
    started = time.perf_counter()
    extract_choice(reply, list("ABCDE"))
    assert time.perf_counter() - started < BUDGET


_REPLY_ALPHABET = st.sampled_from(
    list("ABCDEFGHabc 、,，/和及与是为选项正确对答案应该：:.。()（）\n\t*") + ["answer", "is", "不"]
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(_REPLY_ALPHABET, max_size=400), st.integers(min_value=2, max_value=8))
def test_any_reply_parses_in_time_to_a_letter_among_the_options(parts, n_options):
    letters = list("ABCDEFGH"[:n_options])
    reply = "".join(parts)
    started = time.perf_counter()
    result = extract_choice(reply, letters, [[x, f"选项{x}"] for x in letters])
    assert time.perf_counter() - started < BUDGET
    assert result == UNPARSED or (
        result and set(result) <= set(letters) and result == "".join(sorted(set(result)))
    )


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    st.lists(st.sampled_from(["A ", "B\n", "C、", "D \n", "E,", "F /", "G和"]), min_size=12, max_size=400),
    st.sampled_from(["", "以上都不", "是正确的", "x"]),
)
def test_any_list_of_letters_parses_in_time(chunks, tail):
    """Letter lists are what made the old patterns backtrack exponentially (SmolLM2 wrote them)."""
    started = time.perf_counter()
    result = extract_choice("".join(chunks) + tail, list("ABCD"))
    assert time.perf_counter() - started < BUDGET
    assert result == UNPARSED or set(result) <= set("ABCD")


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(max_size=3000))
def test_random_text_parses_in_time_to_a_letter_among_the_options(reply):
    started = time.perf_counter()
    result = extract_choice(reply, list("ABCD"))
    assert time.perf_counter() - started < BUDGET
    assert result == UNPARSED or set(result) <= set("ABCD")


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.lists(
        st.sampled_from(
            ["胜", "负", "平", "水平", "负责", "胜任", "回答1", "结果：", "\n", "，", "Win", "Tie"]
        ),
        max_size=300,
    )
)
def test_verdict_parsing_is_fast_and_names_one_outcome_or_none(parts):
    from medbench.judge import parse_verdict

    reply = "".join(parts)
    started = time.perf_counter()
    verdict = parse_verdict(reply, {"胜": "win", "负": "loss", "平": "tie"})
    assert time.perf_counter() - started < BUDGET
    assert verdict in (None, "win", "loss", "tie")
    if verdict is not None:  # the deciding line names that verdict as a whole token
        assert any(
            label in reply
            for label, outcome in {"胜": "win", "负": "loss", "平": "tie"}.items()
            if outcome == verdict
        )


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("答案：D\n解释：答案是C，因为C项的说法更常见。", "D"),  # issue 24 case 10: was C
        ("答案：D\n解析：C项是正确的说法，但题目问的是错误的", "D"),
        ("答案：B\n解释：选A的理由不充分", "B"),
        ("解释：答案是C", "C"),  # no slot before the explanation: the whole reply is read
        ("答案是A……不对，答案是C", "C"),  # no explanation: the last answer still decides
    ],
)
def test_the_answer_slot_decides_and_the_explanation_never_overrides_it(reply, expected):
    assert extract_choice(reply, list("ABCDE")) == expected
