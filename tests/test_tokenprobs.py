"""Per-token log-probabilities (the Min-K% probe's input) are lm-eval's own numbers whichever way a
backend computes them: each fast path equals scoring every token as a one-token continuation through
lm-eval's ``_loglikelihood_tokens``, and Min-K% averages the lowest k% of them."""

import pytest

from medbench.audit.mink import CONVENTIONS, min_k, probe, shuffles
from medbench.models.tokenprobs import _generic, token_logprobs

TEXTS = ["急性细菌感染时常明显增多的白细胞是中性粒细胞", "高血压患者应低盐饮食。", "甲"]


@pytest.mark.parametrize("backend", ["hf", "hf-fast"])
def test_one_pass_per_text_equals_lm_evals_token_by_token_scoring(tiny_model, backend):
    from medbench.backends import backend_config

    lm = backend_config(backend, {"device": "cpu", "batch_size": 2}).make_lm(tiny_model, 0)
    sequences = [[lm.prefix_token_id, *lm.tok_encode(t)] for t in TEXTS]
    fast, reference = token_logprobs(lm, sequences), _generic(lm, sequences)
    assert [len(v) for v in fast] == [len(s) - 1 for s in sequences]
    assert (
        max(abs(a - b) for f, r in zip(fast, reference, strict=True) for a, b in zip(f, r, strict=True))
        < 1e-4
    )


def test_min_k_averages_the_least_likely_share_of_tokens():
    values = [-1.0, -5.0, -2.0, -9.0, -0.5, -3.0, -0.1, -0.2, -4.0, -7.0]
    assert min_k(values, 20) == -8.0  # the two lowest of ten
    assert min_k(values, 1) == -9.0  # at least one token
    assert min_k(values, 100) == sum(values) / 10
    assert min_k([], 20) is None


def test_the_reference_convention_floors_k_percent_and_may_give_no_value():
    """Issue 36: Shi et al.'s code takes ``int(n * ratio)`` tokens; medbench's own rounds up."""
    values = [-1.0, -5.0, -2.0, -9.0, -0.5, -3.0, -0.1, -0.2, -4.0, -7.0]
    assert min_k(values, 25) == -7.0  # 2.5 tokens: the three lowest
    assert min_k(values, 25, "reference") == -8.0  # the two lowest
    assert min_k(values, 5, "reference") is None  # no whole token (the reference's mean of nothing)
    assert set(CONVENTIONS) == {"medbench", "reference"}


def test_the_reference_convention_gives_the_reference_implementations_min_k(tiny_model):
    """The reference's steps (swj0419/detect-pretrain-code, src/run.py): ``tokenizer.encode(text)``,
    the log-softmax of each position at the next token (n-1 values), the ``int(n * ratio)`` lowest,
    their mean negated."""
    import numpy as np
    import torch

    from medbench.backends import backend_config

    lm = backend_config("hf", {"device": "cpu", "batch_size": 2}).make_lm(tiny_model, 0)
    text = TEXTS[0] * 2
    input_ids = torch.tensor(lm.tokenizer.encode(text)).unsqueeze(0)
    with torch.no_grad():
        logits = lm.model(input_ids).logits
    probabilities = torch.log_softmax(logits.float(), dim=-1)
    all_prob = [probabilities[0, i, t].item() for i, t in enumerate(input_ids[0][1:])]
    expected = -np.mean(np.sort(all_prob)[: int(len(all_prob) * 0.3)]).item()
    reference, _ = probe(lm, {"x": (text, [])}, 30, "reference")
    assert reference["x"]["min_k"] == pytest.approx(-expected, abs=1e-5)  # its sign: a log-probability
    own, _ = probe(lm, {"x": (text, [])}, 30)
    assert own["x"]["min_k"] != reference["x"]["min_k"]


def test_shuffles_are_distinct_orders_other_than_the_given_one():
    import random

    options = [["A", "甲"], ["B", "乙"], ["C", "丙"]]
    orders = shuffles(options, 24, random.Random(0))
    assert len(orders) == 5 and options not in orders and len({repr(o) for o in orders}) == 5
    assert shuffles(options[:1], 3, random.Random(0)) == []  # one option: no other order
