"""Each stage of the tiny recipe trains on CPU in seconds and measurably does what it claims.

The evidence is measured on held-out bundled data the stage never trained on (see the model cards).
"""

import json

import pytest

from medbench.cli import main
from medbench.paths import SAMPLES_DIR
from medbench.runner import RunConfig, run
from medbench.train.config import load_recipe, stage_config
from medbench.train.stages import run_stage, select_top


@pytest.fixture(scope="module")
def pipeline(tiny_model, tmp_path_factory):
    """pretrain -> sft -> reward -> dpo, rejection sampling and rl, as the tiny recipe chains them."""
    recipe = load_recipe("tiny", str(tmp_path_factory.mktemp("models")))
    cards = {}
    for stage in ("pretrain", "sft", "reward", "dpo", "rejection_sampling", "rl"):
        cards[stage] = run_stage(stage, stage_config(recipe, stage), recipe)
    return recipe, cards


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["pretrain", "sft", "reward", "dpo", "rejection_sampling"])
def test_training_loss_goes_down(pipeline, stage):
    card = pipeline[1][stage]
    assert card["steps"] > 0 and card["final_loss"] < card["first_loss"]


@pytest.mark.slow
def test_pretraining_lowers_heldout_perplexity(pipeline):
    h = pipeline[1]["pretrain"]["heldout"]
    assert h["metric"] == "perplexity" and h["after"] < h["before"]


@pytest.mark.slow
def test_sft_raises_heldout_reference_loglik(pipeline):
    h = pipeline[1]["sft"]["heldout"]
    assert h["metric"] == "reference_loglik" and h["after"] > h["before"]


@pytest.mark.slow
def test_reward_model_ranks_heldout_pairs_well_above_chance(pipeline):
    h = pipeline[1]["reward"]["heldout"]
    assert h["metric"] == "pair_accuracy" and h["after"] >= 0.8


@pytest.mark.slow
def test_dpo_raises_the_heldout_preference_margin(pipeline):
    h = pipeline[1]["dpo"]["heldout"]
    assert h["metric"] == "chosen_minus_rejected_logprob" and h["after"] > h["before"]


@pytest.mark.slow
def test_rejection_sampling_keeps_the_highest_reward_sample(pipeline):
    recipe, _ = pipeline
    out = stage_config(recipe, "rejection_sampling").output_dir
    selections = json.loads((__import__("pathlib").Path(out) / "rejection_samples.json").read_text())
    assert len(selections) == 24
    for s in selections:
        best = max((i for i, r in enumerate(s["replies"]) if r.strip()), key=lambda i: s["scores"][i])
        assert s["selected"] == [s["replies"][best]]


def test_select_top_orders_by_reward_and_skips_empty_replies():
    assert select_top(["a", "b", "", "c"], [0.1, 0.9, 5.0, 0.5], 2) == ["b", "c"]


@pytest.mark.slow
def test_every_stage_output_is_a_model_medbench_run_evaluates(pipeline, tmp_path):
    recipe, cards = pipeline
    for stage in ("rl", "dpo"):
        folder, scores = run(
            RunConfig(
                model=stage_config(recipe, stage).output_dir,
                tasks=["medqa_mcmle"],
                data_dir=str(SAMPLES_DIR),
                output=str(tmp_path),
            )
        )
        assert scores and scores[0].n == 5
    card = cards["dpo"]
    assert card["recipe"] == "tiny" and card["stage"] == "dpo" and card["base_model"].endswith("sft")
    assert all(len(h) == 64 for h in card["data_sha256"].values())


@pytest.mark.parametrize("recipe", ["chimed_gpt", "zhongjing", "iimedgpt", "qilin_med", "tiny"])
def test_paper_recipes_validate_without_a_gpu(recipe, capsys):
    stages = load_recipe(recipe).stages
    for stage in stages:
        assert main(["train", stage, "--config", recipe, "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert f"stage: {stage}" in out and "effective batch size:" in out


def test_overrides_and_unknown_options(capsys):
    assert (
        main(["train", "dpo", "--config", "tiny", "--dry-run", "beta=0.3", "training.learning_rate=1e-4"])
        == 0
    )
    out = capsys.readouterr().out
    assert "beta: 0.3" in out and "learning_rate: 0.0001" in out
    assert main(["train", "dpo", "--config", "tiny", "--dry-run", "training.warmup_ratio=0.1"]) == 2
    assert "DPOConfig has no option(s) warmup_ratio" in capsys.readouterr().err
