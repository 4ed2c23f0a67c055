"""Chinese BLEU/ROUGE: equal to independent computations, and never the 0 that rouge-score's default gives."""

import pytest
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU

from medbench.textmetrics import CONVENTIONS, aggregation, bleu, bleu_precisions, rouge

PAIRS = [  # (prediction, reference)
    ("患者应注意休息，多喝水。", "建议患者多休息，多喝温水。"),
    ("高血压需要长期服药控制。", "高血压患者需要长期规律服药。"),
    ("可以吃布洛芬退烧。", "体温高时可服用布洛芬退烧。"),
]
PREDS = [p for p, _ in PAIRS]
REFS = [r for _, r in PAIRS]


def test_bleu_equals_sacrebleus_own_corpus_bleu_with_zh_tokenizer():
    for order in (1, 2, 4):
        expected = BLEU(tokenize="zh", max_ngram_order=order).corpus_score(PREDS, [REFS]).score
        assert bleu(PREDS, REFS, order) * 100 == pytest.approx(expected)
    precisions = BLEU(tokenize="zh").corpus_score(PREDS, [REFS]).precisions
    assert [p * 100 for p in bleu_precisions(PREDS, REFS)] == pytest.approx(precisions)


def _lcs(a: str, b: str) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a, 1):
        for j, y in enumerate(b, 1):
            table[i][j] = table[i - 1][j - 1] + 1 if x == y else max(table[i - 1][j], table[i][j - 1])
    return table[-1][-1]


def test_rouge_l_equals_a_by_hand_character_lcs_f1():
    expected = []
    for pred, ref in PAIRS:
        lcs = _lcs(pred, ref)
        p, r = lcs / len(pred), lcs / len(ref)
        expected.append(2 * p * r / (p + r))
    assert rouge(PREDS, REFS, "rougeL") == pytest.approx(sum(expected) / len(expected))


def test_rouge_1_counts_shared_characters():
    pred, ref = PAIRS[2]
    overlap = sum(min(pred.count(c), ref.count(c)) for c in set(pred))
    p, r = overlap / len(pred), overlap / len(ref)
    assert rouge([pred], [ref], "rouge1") == pytest.approx(2 * p * r / (p + r))


def test_rouge_scores_default_tokenizer_gives_zero_for_chinese_ours_does_not():
    default = rouge_scorer.RougeScorer(["rougeL"]).score(REFS[0], PREDS[0])["rougeL"].fmeasure
    assert default == 0.0
    assert rouge(PREDS[:1], REFS[:1], "rougeL") > 0.5


def test_identical_texts_score_100_and_disjoint_ones_0():
    assert bleu(REFS, REFS, 4) == pytest.approx(1.0)
    assert rouge(REFS, REFS, "rouge2") == pytest.approx(1.0)
    assert rouge(["甲乙丙"], ["丁戊己"], "rouge1") == 0.0


def test_jieba_variant_is_word_level_and_named_as_such():
    assert "jieba" in CONVENTIONS["bleu4_jieba"] and "character" in CONVENTIONS["bleu4"]
    items = list(zip(REFS, PREDS, strict=True))
    assert aggregation("rougeL_jieba")(items) != aggregation("rougeL")(items)
    assert aggregation("bleu2")(items) == pytest.approx(bleu(PREDS, REFS, 2))
