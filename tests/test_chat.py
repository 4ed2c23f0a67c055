"""--chat: every task's prompt through the model's chat template, as lm-eval builds it -- the task's
description (or --system-prompt) as the system turn, the five shots as user/assistant turns -- with
the rendered prompt kept per sample; a dialogue's own turns are never wrapped in a second template;
the thinking switch reaches the template."""

import json

import pytest
from lm_eval.models.huggingface import HFLM
from transformers import AutoTokenizer

from medbench.models.resolve import resolve_model
from medbench.run.runner import RunConfig, run
from tests.helpers import write_ceval_subject

SYSTEM = "以下是中国关于医师资格考试的单项选择题，请选出其中的正确答案。"


def _turn(split: str, i: int) -> str:
    return f"{split}问题{i}：哪个器官？\nA. 胃\nB. 肝\nC. 肺\nD. 肾\n答案："


#: a 5-shot C-Eval item as chat messages, written out by hand
EXPECTED = [
    {"role": "system", "content": SYSTEM},
    *[
        m
        for i in range(5)
        for m in (
            {"role": "user", "content": _turn("dev", i)},
            {"role": "assistant", "content": "ABCD"[i % 4]},
        )
    ],
    {"role": "user", "content": _turn("val", 0)},
]


@pytest.fixture
def rendered(monkeypatch):
    """Every message list the model is asked to render."""
    seen = []
    render = HFLM.apply_chat_template

    def spy(self, chat_history, add_generation_prompt=True):
        seen.append(chat_history)
        return render(self, chat_history, add_generation_prompt)

    monkeypatch.setattr(HFLM, "apply_chat_template", spy)
    return seen


def _chat_run(model: str, tmp_path, **settings):
    write_ceval_subject(tmp_path / "data", 1)
    config = RunConfig(
        model=model,
        tasks=["ceval_med_physician"],
        data_dir=str(tmp_path / "data"),
        chat=True,
        output=str(tmp_path / "runs"),
        **settings,
    )
    folder, _ = run(config)
    (samples,) = (folder.path / "samples").glob("ceval_med_physician*.jsonl")  # _gen under --mode gen
    (sample,) = [json.loads(x) for x in samples.read_text().splitlines()]
    return sample


@pytest.mark.slow
@pytest.mark.parametrize("model", ["tiny", "smollm2-135m"])
def test_a_five_shot_item_is_the_hand_written_multi_turn_chat(model, rendered, tmp_path):
    path = resolve_model(model)
    sample = _chat_run(path, tmp_path)
    assert rendered[0] == EXPECTED
    template = AutoTokenizer.from_pretrained(path)
    assert sample["prompt"] == template.apply_chat_template(
        EXPECTED, tokenize=False, add_generation_prompt=True
    )


def test_shots_in_one_turn_and_a_system_prompt_of_ones_own(rendered, tiny_model, tmp_path):
    _chat_run(tiny_model, tmp_path, fewshot_as_multiturn=False, system_prompt="你是医生。")
    messages = rendered[0]
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"].startswith("你是医生。") and SYSTEM in messages[0]["content"]
    assert messages[1]["content"].count("答案：") == 6  # five answered shots and the question


def test_the_thinking_switch_reaches_the_template(tiny_model, tmp_path):
    sample = _chat_run(tiny_model, tmp_path, thinking="off", mode="gen", max_new_tokens=2)
    assert sample["prompt"].endswith("<s>assistant\n<think>\n\n</think>\n\n")  # the template's "off"
