"""Each stage of the tiny recipe trains on CPU in seconds and measurably does what it claims.

The evidence is measured on held-out bundled data the stage never trained on (see the model cards).
"""

import json

import pytest
from filelock import FileLock

from medbench.cli.main import main
from medbench.core.paths import SAMPLES_DIR
from medbench.run.runner import RunConfig, run
from medbench.train.config import load_recipe
from medbench.train.run import run_stage, stage_config
from medbench.train.stages.rejection_sampling import select_top


@pytest.fixture(scope="session")
def pipeline(tiny_model, tmp_path_factory, worker_id):
    """pretrain -> sft -> reward -> dpo, rejection sampling and rl, as the tiny recipe chains them,
    trained once for the whole test run: per session (an xdist worker interleaves other files'
    tests, which would tear a module fixture down), and shared by the xdist workers through a lock
    (each worker training its own pipeline cost two ~170 s trainings on the same two cores)."""
    shared = tmp_path_factory.getbasetemp()
    root = (shared.parent if worker_id != "master" else shared) / "trained-pipeline"
    with FileLock(f"{root}.lock"):
        recipe = load_recipe("tiny", str(root / "models"))
        done = root / "cards.json"
        if not done.is_file():
            cards = {}
            for stage in ("pretrain", "sft", "reward", "dpo", "rejection_sampling", "rl"):
                cards[stage] = run_stage(stage, stage_config(recipe, stage), recipe)
            done.write_text(json.dumps(cards), encoding="utf-8")
        return recipe, json.loads(done.read_text(encoding="utf-8"))


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


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("training.learning_rate=abc", "training.learning_rate must be float (got 'abc')"),
        (
            "training.per_device_train_batch_size=2.5",
            "training.per_device_train_batch_size must be int (got 2.5)",
        ),
        ("training.max_length=long", "training.max_length must be int or null (got 'long')"),
    ],
)
def test_a_training_option_of_the_wrong_type_is_one_line_in_a_dry_run(capsys, override, message):
    """Issue 36: the dry run accepted learning_rate=abc; the real run would stop in the optimizer."""
    assert main(["train", "sft", "--config", "tiny", "--dry-run", override]) == 2
    assert capsys.readouterr().err.strip() == f"medbench: error: stage sft: {message}"


TOY_STAGE = '''
"""echo: fine-tune the model to repeat each line of a text file (a toy stage in one file)."""

from dataclasses import dataclass

from medbench.train import data
from medbench.train.stages.base import Stage, StageConfig


@dataclass
class EchoConfig(StageConfig):
    cue: str = "复述："


class Echo(Stage):
    name = "echo"
    order = 15
    config = EchoConfig
    trl_config = "SFTConfig"

    def rows(self, config):
        return [
            {
                "prompt": [{"role": "user", "content": config.cue + text}],
                "completion": [{"role": "assistant", "content": text}],
            }
            for text in data.texts(config.data)
        ]


STAGE = Echo()
'''


@pytest.mark.slow
def test_a_toy_stage_in_one_new_file_trains_through_the_cli(tiny_model, tmp_path, monkeypatch):
    """The stage registry is the only wiring: a new module is a `medbench train` stage."""
    import sys

    import medbench.train.stages

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "echo.py").write_text(TOY_STAGE, encoding="utf-8")
    monkeypatch.setattr(medbench.train.stages, "__path__", [*medbench.train.stages.__path__, str(plugins)])
    monkeypatch.delitem(sys.modules, "medbench.train.stages.echo", raising=False)
    recipe = tmp_path / "toy.yaml"
    echo = {
        "model": "base",
        "data": "bundled:train/heldout_zh.txt",
        "cue": "重复：",
        "max_length": 256,
        "training": {"num_train_epochs": 1, "per_device_train_batch_size": 8},
    }
    recipe.write_text(json.dumps({"recipe": "toy", "base_model": "tiny", "stages": {"echo": echo}}), "utf-8")
    args = ["train", "echo", "--config", str(recipe), "--output-root", str(tmp_path / "models")]
    assert main(args) == 0
    card = json.loads((tmp_path / "models" / "echo" / "medbench_model_card.json").read_text())
    assert card["stage"] == "echo" and card["steps"] > 0 and card["config"]["cue"] == "重复："
    assert list(medbench.train.stages.registry())[:3] == ["pretrain", "echo", "sft"]  # its declared order
