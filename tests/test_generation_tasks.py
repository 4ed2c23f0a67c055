"""Generation and dialogue tasks load their official layouts and render turns as text or chat."""

import json
from pathlib import Path

import pytest

from medbench.run.runner import RunConfig, run
from tests.helpers import load_task_data

FIXTURES = Path(__file__).parent / "fixtures"


def test_huatuo26m_test_holds_6000_single_turn_items(shared_data):
    data = load_task_data("huatuo26m", shared_data)["test"]
    assert len(data) == 6000
    first = data[0]
    assert first["history"] == [] and first["question"] and first["reference"]
    assert first["prompt"] == f"假设你是一名医生，请回答患者的问题。\n患者：{first['question']}\n医生："


def test_cmtmedqa_splits_1000_dialogues_from_144_safety_prompts(shared_data):
    dialogues = load_task_data("cmtmedqa", shared_data)["test"]
    safety = load_task_data("cmtmedqa_safety", shared_data)["test"]
    # 144 safety prompts, of which rows 1079-1083 repeat rows 1073-1077 exactly: scored once each
    assert len(dialogues) == 1000 and len(safety) == 144 - 5
    d = dialogues[0]
    turns = len(d["history"])
    assert turns % 2 == 0 and turns >= 2
    assert d["prompt"].count("患者：") == turns // 2 + 1 and d["prompt"].endswith("医生：")
    assert [m["role"] for m in d["messages"]] == ["user", "assistant"] * (turns // 2) + ["user"]
    assert not safety[0]["question"].startswith(" ")  # the file's leading spaces are stripped


def test_mc_dialogue_makes_one_item_per_doctor_turn_with_the_turns_before(shared_data):
    data = load_task_data("mc_dialogue", shared_data)["test"]
    assert len(data) > 18
    for item in data:
        roles = [r for r, _ in item["history"]] + ["patient"]
        assert all(a != b for a, b in zip(roles, roles[1:], strict=False))  # same-speaker lines merged
        assert item["reference"]


def test_chimed_qa_reads_its_format_and_reports_bad_rows():
    loaded = load_task_data("chimed_qa", FIXTURES)
    data = loaded["test"]
    assert [d["id"] for d in data] == ["q1", "q2"]
    assert data[0]["reference"] == "规律作息，早晚刷牙，多吃蔬菜水果，必要时就诊。"  # the adopted answer
    assert data[0]["prompt"].startswith("假设你是一名医生，请回答患者的问题。\n患者：最近总熬夜")
    assert [s.reason for s in loaded.report.skipped] == ["empty question"]


def test_chimst_reads_conll_fixtures():
    data = load_task_data("chimst_ner", FIXTURES)
    assert len(data["shots"]) == 5 and len(data["test"]) == 3
    first = data["test"][0]
    assert [first["text"][e["start"] : e["end"]] for e in first["entities"]] == ["咳嗽", "发热"]
    assert first["answer"] == "医学术语：咳嗽；发热"


def test_chat_flag_renders_turns_through_the_models_chat_template(tiny_model, shared_data, tmp_path):
    settings = dict(tasks=["cmtmedqa"], data_dir=str(shared_data), limit=1, max_new_tokens=2)
    folder, _ = run(RunConfig(model=tiny_model, chat=True, output=str(tmp_path), **settings))
    sample = json.loads((folder.path / "samples" / "cmtmedqa.jsonl").read_text().splitlines()[0])
    prompt = sample["prompt"]
    assert prompt.startswith("<s>user\n假设你是一名医生") and prompt.endswith("<s>assistant\n")
    assert prompt.count("<s>assistant\n") == len(sample["history"]) // 2 + 1
    assert prompt.count("<s>user\n") == len(sample["history"]) // 2 + 1  # one template, not one in another


def test_cmexam_explain_scores_only_the_text_after_the_explanation_marker(tiny_model, tmp_path):
    from medbench.scoring.gen import process_explanation

    doc = {"explanation": "甘味能补、能和、能缓。"}
    scored = process_explanation(doc, ["答案：A\n解释：甘味能补、能和、能缓。"])
    assert scored["rougeL"] == ("甘味能补、能和、能缓。", "甘味能补、能和、能缓。")
    assert process_explanation(doc, ["答案：A"])["empty_rate"] == 1.0


@pytest.mark.slow
def test_ner_runs_end_to_end_and_counts_unparseable_replies(tiny_model, tmp_path):
    folder, scores = run(
        RunConfig(
            model=tiny_model,
            tasks=["chimst_ner"],
            max_new_tokens=8,
            data_dir=str(FIXTURES),
            output=str(tmp_path),
        )
    )
    by_metric = {s.metric: s.value for s in scores}
    samples = [json.loads(x) for x in (folder.path / "samples" / "chimst_ner.jsonl").read_text().splitlines()]
    assert len(samples) == 3
    unparsed = sum(s["metrics"]["unparsed_rate"] for s in samples) / 3
    assert by_metric["unparsed_rate"] == pytest.approx(unparsed)
    assert 0.0 <= by_metric["f1"] <= 1.0


def test_generations_hold_whole_characters_only(tiny_model, tmp_path):
    """Bytes a reply's tokens leave without a character (a character cut by the token limit, stray
    continuation bytes) are dropped, never written as U+FFFD: 16 new tokens of the tiny model cut
    characters in several of the bundled Huatuo-26M questions."""
    from medbench.core.paths import SAMPLES_DIR

    folder, _ = run(
        RunConfig(
            model=tiny_model,
            tasks=["huatuo26m"],
            data_dir=str(SAMPLES_DIR),
            max_new_tokens=16,
            temperature=1.0,
            output=str(tmp_path),
        )
    )
    lines = (folder.path / "samples" / "huatuo26m.jsonl").read_text(encoding="utf-8").splitlines()
    replies = [json.loads(x)["raw"] for x in lines]
    assert replies and any(replies)
    assert not any("\ufffd" in r for r in replies)
