"""Chinese in plot titles and labels is drawn with a CJK font behind the default one (no empty boxes),
wherever the machine has one installed."""

import warnings

import pytest

from medbench.core.plotting import CJK_FONTS, pyplot, save


def test_chinese_labels_have_glyphs(tmp_path):
    from matplotlib import font_manager

    plt = pyplot()
    if not set(plt.rcParams["font.family"]) & set(CJK_FONTS):
        installed = [p for p in font_manager.findSystemFonts() if "cjk" in p.lower()]
        pytest.skip(
            f"no CJK font on this machine (Debian: apt-get install fonts-noto-cjk); found {installed}"
        )
    fig, ax = plt.subplots()
    ax.bar(["基础医学", "临床医学"], [0.4, 0.6])
    ax.set_title("C-Eval 医学科目准确率")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        save(fig, tmp_path / "zh")
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert missing == []
    assert (tmp_path / "zh.png").stat().st_size > 0


def _texts(svg) -> list[str]:
    """The text drawn in a matplotlib SVG (each piece is kept as an XML comment beside its glyphs)."""
    import re

    return re.findall(r"<!-- (.*?) -->", svg.read_text(encoding="utf-8"))


def _fills(svg) -> set[str]:
    import re

    return {c.lower() for c in re.findall(r"fill: ?(#[0-9a-fA-F]{6})", svg.read_text(encoding="utf-8"))}


def test_the_judge_plot_stacks_three_coloured_outcomes_and_labels_each_share(tmp_path):
    from medbench.judge.plots import OUTCOME_COLOURS, judge_bars

    def dim(win, tie, loss, judged=10):
        return {"judged": judged, "rates": {"win": win, "tie": tie, "loss": loss}}

    summary = {
        "model_a": "dpo",
        "model_b": "sft",
        "task": "huatuo26m",
        "dimensions": {"safety": dim(0.5, 0.3, 0.2), "professionalism": dim(0.1, 0.6, 0.3)},
    }
    judge_bars(summary, tmp_path / "judge")
    texts = _texts(tmp_path / "judge.svg")
    assert {"safety", "professionalism", "win", "tie", "loss"} <= set(texts)
    assert {"50%", "30%", "20%", "60%"} <= set(texts) and "10%" in texts  # each share written once
    assert {c.lower() for c in OUTCOME_COLOURS.values()} <= _fills(tmp_path / "judge.svg")

    nothing = {**summary, "dimensions": {"safety": {"judged": 0, "rates": dict.fromkeys(OUTCOME_COLOURS)}}}
    # issue 39: nothing judged draws no empty "no data" panel (the judge's table says "0 judged")
    assert judge_bars(nothing, tmp_path / "empty") is False and not list(tmp_path.glob("empty.*"))


def test_the_stage_plot_runs_from_the_base_model_through_dpo(tmp_path):
    """Hand-made model cards and run folders: the base model (the first stage's base_model, which no
    stage produced) comes first, a stage evaluated in several runs keeps every task, and a task
    measured at one stage only draws no line."""
    from dataclasses import asdict

    from medbench.analysis.summary import Score
    from medbench.report.folders import collect
    from medbench.report.plots import stage_progression
    from medbench.run.rundir import RunFolder

    models = tmp_path / "models"
    previous, cards = str(models / "base"), {}
    for stage in ("pretrain", "sft", "dpo"):
        cards[stage] = {"recipe": "toy", "stage": stage, "base_model": previous}
        previous = str(models / stage)

    def run(model: str, task: str, value: float) -> None:
        folder = RunFolder.create(tmp_path / "runs", model)
        folder.write_json("config.json", {"model": str(models / model), "tasks": [task]})
        folder.write_json("metrics.json", [asdict(Score(task, "acc", value, 10))])
        if model in cards:  # the card of a model medbench trained, as medbench run records it
            folder.write_json("model_card.json", cards[model])

    for i, model in enumerate(("base", "pretrain", "sft", "dpo")):
        run(model, "medqa_mcmle", 0.2 + 0.1 * i)
    run("sft", "cmexam", 0.2)
    run("dpo", "cmexam", 0.3)  # the DPO model's second run
    run("dpo", "huatuo26m", 0.1)  # one stage only: a point, not a line

    folders, _ = collect([str(tmp_path / "runs")])
    assert stage_progression(folders, tmp_path / "plots") == ["toy"]
    texts = _texts(tmp_path / "plots" / "stages-toy.svg")
    ticks = [t for t in texts if t in ("base", "pretrain", "sft", "dpo")]
    assert ticks[:4] == ["base", "pretrain", "sft", "dpo"]
    assert {"medqa_mcmle", "cmexam"} <= set(texts) and "huatuo26m" not in texts


def test_a_task_no_model_scored_gets_no_empty_chart(tmp_path):
    """Issue 39: the report drew a 300-px "no data" panel for a task whose every score was None (the
    CMExam official accuracy of a model that answered none in its format)."""
    from dataclasses import asdict

    from medbench.analysis.summary import Score
    from medbench.report.folders import collect
    from medbench.report.plots import plot_tasks
    from medbench.run.rundir import RunFolder

    folder = RunFolder.create(tmp_path / "runs", "tiny")
    folder.write_json("config.json", {"model": "tiny", "tasks": ["cmexam_official", "cmexam"]})
    folder.write_json("status.json", {"complete": True, "n_failed": 0})
    scores = [
        Score("cmexam_official", "acc_cmexam", None, 0),
        Score("cmexam", "acc", 0.5, 4, None, "", [], 0, 0, 0, 0.2, 0.8, "wilson"),
    ]
    folder.write_json("metrics.json", [asdict(s) for s in scores])
    folders, _ = collect([str(tmp_path / "runs")])
    assert plot_tasks(folders, tmp_path / "plots") == ["cmexam"]
    assert not list((tmp_path / "plots").glob("cmexam_official.*"))


def test_a_task_chart_starts_at_zero_and_draws_each_interval(tmp_path):
    """Issue 39: a task whose every model scored 0 was drawn on an axis from -0.05 to 0.05 with no
    error bars; the axis starts at 0 and each bar carries its 95% interval."""
    from dataclasses import asdict

    from medbench.analysis.summary import Score
    from medbench.report.folders import collect
    from medbench.report.plots import plot_tasks
    from medbench.run.rundir import RunFolder

    folder = RunFolder.create(tmp_path / "runs", "tiny")
    folder.write_json("config.json", {"model": "tiny", "tasks": ["cmexam"]})
    folder.write_json("status.json", {"complete": True, "n_failed": 0})
    zero = Score("cmexam", "acc", 0.0, 7, None, "", [], 0, 0, 0, 0.0, 0.354, "wilson")
    folder.write_json("metrics.json", [asdict(zero)])
    folders, _ = collect([str(tmp_path / "runs")])
    assert plot_tasks(folders, tmp_path / "plots") == ["cmexam"]
    ticks = [
        t for t in _texts(tmp_path / "plots" / "cmexam.svg") if t.replace(".", "").lstrip("−-").isdigit()
    ]
    assert not [t for t in ticks if t.startswith(("−", "-"))], ticks  # nothing below 0
    assert max(float(t) for t in ticks) >= 35  # the axis reaches the interval's top, 35.4
