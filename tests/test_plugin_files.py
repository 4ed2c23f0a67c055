"""Issue 25: a malformed rubric, suite, scale, recipe or benchmarks.yaml is one line naming the file and
the field (medbench/config/plugin_files.py), never a KeyError traceback from the command using it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from medbench.cli.main import main
from medbench.core.errors import MedbenchError
from medbench.core.paths import plugin_dir


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    """A plug-in root holding copies of the shipped files, for the loaders to read instead."""
    root = tmp_path / "plugins"
    for kind in ("judges", "suites", "bias", "reports"):
        shutil.copytree(plugin_dir(kind), root / kind)
    monkeypatch.setattr("medbench.config.plugins.plugin_dir", lambda kind: root / kind)
    monkeypatch.setattr("medbench.report.board.plugin_dir", lambda kind: root / kind)
    return root


def _edit(path: Path, change) -> Path:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_a_pairwise_rubric_without_verdicts_is_one_line_naming_the_file(plugins):
    from medbench.judge.rubric import load_rubric

    path = _edit(plugins / "judges" / "iimedgpt_pf.yaml", lambda d: d.pop("verdicts"))
    with pytest.raises(MedbenchError) as error:
        load_rubric("iimedgpt_pf")
    assert _one_line(error).startswith(f"{path}: a pairwise rubric needs verdicts")


def test_a_rubric_verdict_outside_win_loss_tie_names_its_field(plugins):
    from medbench.judge.rubric import load_rubric

    path = _edit(
        plugins / "judges" / "iimedgpt_pf.yaml", lambda d: d["verdicts"]["zh"].update({"胜": "victory"})
    )
    with pytest.raises(MedbenchError) as error:
        load_rubric("iimedgpt_pf")
    assert _one_line(error).startswith(
        f"{path}: field verdicts.zh.胜: input should be 'win', 'loss' or 'tie'"
    )


def test_a_suite_part_whose_tasks_are_not_a_list_names_its_field(plugins):
    from medbench.cli.suite import load_suite

    path = _edit(plugins / "suites" / "chimed_gpt.yaml", lambda d: d["parts"][0].update(tasks="ccks2019_ner"))
    with pytest.raises(MedbenchError) as error:
        load_suite("chimed_gpt")
    assert _one_line(error).startswith(f"{path}: field parts.0.tasks: input should be a valid list")


def test_a_misspelt_suite_setting_is_refused_not_ignored(plugins):
    from medbench.cli.suite import load_suite

    path = _edit(plugins / "suites" / "chimed_gpt.yaml", lambda d: d["parts"][2].update(repeat=5))
    with pytest.raises(MedbenchError) as error:
        load_suite("chimed_gpt")
    assert _one_line(error).startswith(f"{path}: field parts.2.repeat: extra inputs are not permitted")


def test_a_scale_item_with_an_unknown_keying_names_its_field(plugins):
    from medbench.bias.scales import load_scale

    path = _edit(plugins / "bias" / "cami.yaml", lambda d: d["items"][3].update(keyed="agree"))
    with pytest.raises(MedbenchError) as error:
        load_scale("cami")
    assert _one_line(error).startswith(f"{path}: field items.3.keyed: input should be")


def test_a_recipe_with_a_misspelt_key_is_one_line_from_the_command(tmp_path, capsys):
    recipe = tmp_path / "mine.yaml"
    shutil.copy(plugin_dir("trainers") / "tiny.yaml", recipe)
    _edit(recipe, lambda d: d.update(base_modle=d.pop("base_model")))
    assert main(["train", "sft", "--config", str(recipe), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert f"{recipe}: field base_model: field required" in err[0]


def test_a_benchmarks_file_with_a_chance_above_100_names_its_field(plugins):
    from medbench.report import board as report_board

    path = _edit(plugins / "reports" / "benchmarks.yaml", lambda d: d["MedQA"]["chance"].update(value=250))
    report_board.benchmarks.cache_clear()
    try:
        with pytest.raises(MedbenchError) as error:
            report_board.benchmarks()
    finally:
        report_board.benchmarks.cache_clear()
    assert _one_line(error).startswith(
        f"{path}: field MedQA.chance.value: input should be less than or equal"
    )


def test_a_yaml_file_that_does_not_parse_is_one_line(plugins):
    from medbench.cli.suite import load_suite

    path = plugins / "suites" / "chimed_gpt.yaml"
    path.write_text("suite: [unclosed\n", encoding="utf-8")
    with pytest.raises(MedbenchError) as error:
        load_suite("chimed_gpt")
    assert _one_line(error).startswith(f"{path}: not a readable YAML file")


@pytest.mark.parametrize("kind", ["judges", "suites", "bias", "trainers"])
def test_every_shipped_plug_in_file_fits_its_declared_shape(kind):
    from medbench.config import plugin_files
    from medbench.config.plugin_files import checked

    schema = {
        "judges": plugin_files.Rubric,
        "suites": plugin_files.Suite,
        "bias": plugin_files.Scale,
        "trainers": plugin_files.Recipe,
    }[kind]
    files = [p for p in sorted(plugin_dir(kind).glob("*.yaml")) if p.stem != "prompts"]
    assert files
    for path in files:
        checked(path, schema)
