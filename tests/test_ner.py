"""NER as generation: CCKS-2019 loads in full, and F1 is exact for perfect, partial and broken answers."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medbench.scoring import ner
from medbench.scoring.ner import bio_tags, parse_answer, process_results, render_answer, segments
from tests.helpers import load_task_data, task_module


def _report(items: list) -> dict:
    """seqeval's own report over (gold, predicted) BIO pairs: what medbench's scores must equal."""
    from seqeval.metrics import classification_report

    return classification_report(
        [list(g) for g, _ in items], [list(p) for _, p in items], output_dict=True, zero_division=0
    )


read_ccks = task_module("ner").read_ccks
spans_from_bio = task_module("ner").spans_from_bio

TYPES = [["疾病和诊断", "disease"], ["药物", "drug"]]


def _doc(text, entities):
    return {"text": text, "entities": entities, "types": TYPES}


def _ent(text, mention, slug, nth=0):
    start = -1
    for _ in range(nth + 1):
        start = text.index(mention, start + 1)
    return {"type": slug, "start": start, "end": start + len(mention)}


def test_ccks2019_training_parts_hold_1000_documents_and_17653_entities(shared_data):
    docs = [
        d
        for part in (1, 2)
        for d in read_ccks(shared_data / "ccks2019" / f"subtask1_training_part{part}.txt")
    ]
    assert len(docs) == 1000
    assert sum(len(d["entities"]) for d in docs) == 17653


def test_ccks2019_task_segments_long_documents_keeping_every_entity(shared_data):
    data = load_task_data("ccks2019_ner_train_heldout", shared_data)
    assert len(data["shots"]) == 5
    shot_docs = {d["id"].split("#")[0] for d in data["shots"]}
    assert not shot_docs & {d["id"].split("#")[0] for d in data["test"]}
    # entities of the five documents used as shots are the only ones not in the test split
    shot_entities = sum(
        len(d["entities"])
        for d in read_ccks(shared_data / "ccks2019" / "subtask1_training_part1.txt")
        if d["id"] in shot_docs
    )
    assert sum(len(d["entities"]) for d in data["test"]) == 17653 - shot_entities
    for d in data["test"]:
        for e in d["entities"]:
            assert 0 <= e["start"] < e["end"] <= len(d["text"])


def test_perfect_predictions_score_f1_100_on_real_data(shared_data):
    data = load_task_data("ccks2019_ner_train_heldout", shared_data)
    items = [process_results(d, [d["answer"]])["f1"] for d in data["test"]]
    assert _report(items)["micro avg"]["f1-score"] == 1.0


def test_missing_one_entity_scores_the_hand_computed_value():
    text = "患者确诊高血压和糖尿病，口服二甲双胍。"
    gold = [_ent(text, "高血压", "disease"), _ent(text, "糖尿病", "disease"), _ent(text, "二甲双胍", "drug")]
    doc = _doc(text, gold)
    reply = "疾病和诊断：高血压\n药物：二甲双胍"  # 糖尿病 missed
    result = process_results(doc, [reply])
    report = _report([result["f1"]])
    # tp = 2, fp = 0, fn = 1 -> P = 1, R = 2/3, F1 = 0.8; disease: P = 1, R = 1/2, F1 = 2/3
    assert report["micro avg"]["precision"] == pytest.approx(1.0)
    assert report["micro avg"]["recall"] == pytest.approx(2 / 3)
    assert report["micro avg"]["f1-score"] == pytest.approx(0.8)
    assert report["disease"]["f1-score"] == pytest.approx(2 / 3)
    assert report["drug"]["f1-score"] == pytest.approx(1.0)


def test_a_wrong_type_is_a_false_positive_and_a_miss():
    text = "服用阿司匹林后胃痛。"
    doc = _doc(text, [_ent(text, "阿司匹林", "drug")])
    report = _report([process_results(doc, ["疾病和诊断：阿司匹林\n药物：无"])["f1"]])
    assert report["micro avg"]["f1-score"] == 0.0


def test_unparseable_output_predicts_nothing_and_is_counted():
    text = "患者有高血压。"
    doc = _doc(text, [_ent(text, "高血压", "disease")])
    for reply in ["", "我不知道", "。。。。。", "症状：头痛"]:
        result = process_results(doc, [reply])
        assert result["unparsed_rate"] == 1.0
        assert result["f1"][1] == ["O"] * len(text)


def test_mentions_not_in_the_text_are_counted_as_unlocated():
    text = "患者有高血压。"
    doc = _doc(text, [_ent(text, "高血压", "disease")])
    result = process_results(doc, ["疾病和诊断：高血压；肺炎"])
    assert result["unlocated_rate"] == 0.5 and result["unparsed_rate"] == 0.0


def test_answer_format_round_trips_mentions_with_semicolons():
    found = {"疾病和诊断": ["高血压", "7组&GT;淋巴结"], "药物": []}
    assert render_answer(found) == "疾病和诊断：高血压；「7组&GT;淋巴结」\n药物：无"
    assert parse_answer(render_answer(found), TYPES) == found  # 类型：无 parses as an empty list
    assert parse_answer("疾病和诊断: 高血压; 糖尿病", TYPES) == {"疾病和诊断": ["高血压", "糖尿病"]}


def test_segments_cut_at_sentence_ends_never_inside_an_entity():
    text = "第一句很长。第二句提到高血压。第三句。"
    doc = {"id": "d", "text": text, "entities": [_ent(text, "高血压", "disease")], "row": 1}
    pieces = segments(doc, max_chars=8)
    assert "".join(p["text"] for p in pieces) == text
    for p in pieces:
        for e in p["entities"]:
            assert p["text"][e["start"] : e["end"]] == "高血压"
            assert text[p["offset"] + e["start"] : p["offset"] + e["end"]] == "高血压"
    assert sum(len(p["entities"]) for p in pieces) == 1


def test_bio_round_trip_for_the_chimst_reader():
    tags = bio_tags(6, [("term", 0, 2), ("term", 3, 6)])
    assert tags == ["B-term", "I-term", "O", "B-term", "I-term", "I-term"]
    assert spans_from_bio(tags) == [
        {"type": "term", "start": 0, "end": 2},
        {"type": "term", "start": 3, "end": 6},
    ]


# ---- named conventions (issue 14) -----------------------------------------------------------------

ANATOMY = [["疾病和诊断", "disease"], ["解剖部位", "anatomy"]]


def _scores(reply: str) -> dict:
    """Every NER metric of one document, aggregated as lm-eval would over a corpus of one."""
    from medbench.scoring import ner, ner_conventions

    text = "胃癌患者，胃部疼痛。"  # 胃 at 0 (inside 胃癌, not annotated) and at 5 (annotated)
    doc = {
        "text": text,
        "types": ANATOMY,
        "entities": [{"type": "disease", "start": 0, "end": 2}, {"type": "anatomy", "start": 5, "end": 6}],
    }
    out = process_results(doc, [reply])
    scores = {m: getattr(ner, m)([out[m]]) for m in ("precision", "recall", "f1")}
    scores.update({m: getattr(ner_conventions, m)([out[m]]) for m in ner_conventions.METRICS})
    return scores


def test_each_ner_convention_on_a_nested_repeat_equals_a_hand_computation():
    s = _scores("疾病和诊断：胃癌\n解剖部位：胃")
    # gold-placement: 胃癌 and 胃 at their gold spans -> 2 of 2 predicted, 2 of 2 gold
    assert (s["precision"], s["recall"], s["f1"]) == pytest.approx((1, 1, 1))
    # all-occurrences: 胃 also at 0-1 (inside 胃癌): 3 spans predicted, 2 right
    assert (s["all_occurrences_precision"], s["all_occurrences_recall"]) == pytest.approx((2 / 3, 1))
    assert s["all_occurrences_f1"] == pytest.approx(0.8)
    # first-occurrence: 胃 only at 0-1, which is not gold: 1 of 2 right, 1 of 2 found
    assert (s["first_occurrence_precision"], s["first_occurrence_recall"]) == pytest.approx((0.5, 0.5))
    assert s["first_occurrence_f1"] == pytest.approx(0.5)
    # mention-set: {(disease, 胃癌), (anatomy, 胃)} equals the gold pairs
    assert (s["mention_set_precision"], s["mention_set_recall"], s["mention_set_f1"]) == pytest.approx(
        (1, 1, 1)
    )


def test_a_mention_absent_from_the_text_is_a_false_positive_except_under_gold_placement():
    s = _scores("疾病和诊断：胃癌；胃痛\n解剖部位：胃")  # 胃痛 is not in the text
    assert s["f1"] == pytest.approx(1.0)  # gold-placement places it nowhere (counted in unlocated_rate)
    assert s["all_occurrences_precision"] == pytest.approx(2 / 4)
    assert s["first_occurrence_precision"] == pytest.approx(1 / 3)
    assert s["mention_set_precision"] == pytest.approx(2 / 3) and s["mention_set_recall"] == pytest.approx(1)
    assert s["mention_set_f1"] == pytest.approx(0.8)


def _ccks_lines(prefix: str, n: int) -> str:
    import json

    lines = []
    for k in range(n):
        text = f"{prefix}{k}：患者因胃癌入院，予奥美拉唑治疗。"
        start = text.index("胃癌")
        entities = [{"label_type": "疾病和诊断", "start_pos": start, "end_pos": start + 2}]
        lines.append(json.dumps({"originalText": text, "entities": entities}, ensure_ascii=False))
    return "\n".join(lines) + "\n"


@pytest.fixture
def ccks_with_test_file(tmp_path):
    root = tmp_path / "data"
    (root / "ccks2019").mkdir(parents=True)
    (root / "ccks2019" / "subtask1_training_part1.txt").write_text(_ccks_lines("训练", 6), encoding="utf-8")
    (root / "ccks2019" / "subtask1_training_part2.txt").write_text(_ccks_lines("训练二", 2), encoding="utf-8")
    (root / "ccks2019" / "subtask1_test_set_with_answer.json").write_text(
        _ccks_lines("测试", 3), encoding="utf-8"
    )
    return root


def test_ccks2019_ner_evaluates_the_official_test_file_with_shots_from_training(ccks_with_test_file):
    data = load_task_data("ccks2019_ner", ccks_with_test_file)
    assert [d["text"][:3] for d in data["test"]] == ["测试0", "测试1", "测试2"]
    assert len(data["shots"]) == 5 and all(d["text"].startswith("训练") for d in data["shots"])
    heldout = load_task_data("ccks2019_ner_train_heldout", ccks_with_test_file)
    assert [d["text"][:3] for d in heldout["test"]] == ["训练5", "训练二", "训练二"]  # training minus shots


def test_a_run_on_the_test_file_lists_it_in_data_json(ccks_with_test_file, tiny_model, tmp_path):
    import json

    from medbench.run.runner import RunConfig, run

    folder, _ = run(
        RunConfig(
            model=tiny_model,
            tasks=["ccks2019_ner"],
            limit=2,
            max_new_tokens=4,
            data_dir=str(ccks_with_test_file),
            output=str(tmp_path / "runs"),
        )
    )
    files = json.loads((folder.path / "data.json").read_text())["files_sha256"]
    assert any(f.endswith("ccks2019/subtask1_test_set_with_answer.json") for f in files)
    samples = (folder.path / "samples" / "ccks2019_ner.jsonl").read_text(encoding="utf-8")
    assert "测试0" in samples and "训练5" not in samples.split("文本：")[-1]


def test_without_the_test_file_ccks2019_ner_says_which_task_scores_the_training_parts(shared_data):
    from medbench.core.errors import MedbenchError

    with pytest.raises(MedbenchError, match="subtask1_test_set_with_answer.json.*ccks2019_ner_train_heldout"):
        load_task_data("ccks2019_ner", shared_data)


def test_a_gold_span_with_whitespace_at_an_edge_is_its_text_and_a_perfect_reply_reaches_100(tmp_path):
    """issue 24, case 12: 'PLT ' could never be matched by a stripped reply (recall 99.65)."""
    import json

    from medbench.scoring import ner_conventions

    text = "查血示PLT 减少，诊断为 胃癌。"
    start, space = text.index("PLT "), text.index(" 胃癌")
    entities = [
        {"label_type": "实验室检验", "start_pos": start, "end_pos": start + 4},  # 'PLT '
        {"label_type": "疾病和诊断", "start_pos": space, "end_pos": space + 3},  # ' 胃癌'
    ]
    path = tmp_path / "ccks.json"
    path.write_text(json.dumps({"originalText": text, "entities": entities}, ensure_ascii=False) + "\n")
    (doc,) = read_ccks(path)
    assert [text[e["start"] : e["end"]] for e in doc["entities"]] == ["PLT", "胃癌"]
    predicted = {(e["type"], text[e["start"] : e["end"]]) for e in doc["entities"]}
    for convention, (hits, _, gold) in ner_conventions.counts(text, doc["entities"], predicted).items():
        assert hits == gold == 2, convention


def test_medbench_tasks_says_documents_and_entities_of_a_ner_task(ccks_with_test_file, capsys):
    from medbench.cli.main import main

    assert main(["tasks", "--data-dir", str(ccks_with_test_file)]) == 0
    (row,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ccks2019_ner |")]
    assert "3 segments (3 documents, 3 entities)" in row


@given(
    st.lists(
        st.tuples(
            *[st.lists(st.sampled_from(["O", "B-dis", "I-dis", "B-drug", "I-drug"]), min_size=6, max_size=6)]
            * 2
        ),
        min_size=1,
        max_size=8,
    )
)
@settings(max_examples=60, deadline=None)
def test_entity_scores_as_summed_counts_equal_seqevals_report(items):
    """The gold-placement scores sum per-item entity counts (so the bootstrap resamples sums): equal
    to seqeval's classification_report over the whole corpus, micro and per type."""
    report = _report(items)
    assert ner.f1(items) == pytest.approx(report["micro avg"]["f1-score"], abs=1e-12)
    assert ner.precision(items) == pytest.approx(report["micro avg"]["precision"], abs=1e-12)
    assert ner.recall(items) == pytest.approx(report["micro avg"]["recall"], abs=1e-12)
    for slug in ("dis", "drug"):
        assert getattr(ner, f"f1_{slug}")(items) == pytest.approx(
            report.get(slug, {}).get("f1-score", 0.0), abs=1e-12
        )
