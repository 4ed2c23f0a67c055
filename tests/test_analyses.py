"""Issue 37: analyses are plug-ins over the per-item records. ``medbench run`` runs every registered
one (circular, slices, margins, letters, and any module added to ``medbench/analysis/``: the
CONTRIBUTING walkthrough adds one and sees it in metrics.json, results.md and the report page); what a
plug-in returns is checked like received input."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from medbench.analysis import plugin
from medbench.analysis.plugin import Analysis, Context, Finding
from medbench.analysis.summary import Score
from medbench.config import plugins
from medbench.config.run import RunConfig
from medbench.core.errors import MedbenchError

plugins_discover = plugins.discover


def _context(**settings) -> Context:
    return Context(RunConfig(model="m", tasks=["t"], **settings), {}, Path("."), 1e-3)


def test_the_shipped_analyses_are_registered_in_their_order():
    assert [a.name for a in plugin.registered()] == ["circular", "slices", "margins", "letters"]


def test_an_analysis_runs_only_where_it_applies():
    applies = {a.name: a.applies(_context()) for a in plugin.registered()}
    assert applies == {"circular": False, "slices": False, "margins": True, "letters": True}
    assert {a.name for a in plugin.registered() if a.applies(_context(circular=True))} >= {"circular"}


class _Returns(Analysis):
    order = 1

    def __init__(self, name: str, found: Finding | Exception) -> None:
        self.name, self.found = name, found

    def run(self, context: Context) -> Finding:
        if isinstance(self.found, Exception):
            raise self.found
        return self.found


def _applied(monkeypatch, tmp_path, *analyses: Analysis, scores=()) -> Finding:
    (tmp_path / "data.json").write_text("{}")  # a file the run wrote before its analyses
    monkeypatch.setattr(plugin, "registered", lambda: list(analyses))
    context = Context(RunConfig(model="m", tasks=["t"]), {}, tmp_path, 1e-3)
    return plugin.apply(context, list(scores))


BAD_FILES = ["../x.json", "a/b.json", "results.md", "x" * 300 + ".json"]
TAKEN = ["metrics.json", "data.json", "one.json"]  # the run's own (before or after), another analysis's


@pytest.mark.parametrize("file", BAD_FILES + TAKEN)
def test_an_analysis_writes_only_a_new_json_file_of_its_own(monkeypatch, tmp_path, file):
    first = _Returns("first", Finding(files={"one.json": []}))
    found = _applied(monkeypatch, tmp_path, first, _Returns("bad", Finding(files={file: []})))
    assert list(found.files) == ["one.json"]  # the first analysis's file; the bad one adds nothing
    assert found.warnings == [f"analysis bad left out: cannot write {file[:80]!r} into the run folder"]


def test_an_analysis_that_raises_or_scores_badly_is_left_out_with_a_warning(monkeypatch, tmp_path):
    acc = Score("t", "acc", 0.5, 4)
    found = _applied(
        monkeypatch,
        tmp_path,
        _Returns("boom", ValueError("boom in plug-in")),
        _Returns("again", Finding([Score("t", "acc", 0.99, 4)])),
        _Returns("nan", Finding([Score("t", "odd", math.nan, 4)])),
        _Returns("fine", Finding([Score("t", "fine", 0.25, 4)], markdown="fine\n")),
        scores=[acc],
    )
    assert [s.metric for s in found.scores] == ["fine"] and found.markdown == "fine\n"
    assert found.warnings[0] == "analysis boom left out: ValueError: boom in plug-in"
    assert found.warnings[1] == "analysis again left out: t acc is already scored"
    assert found.warnings[2].startswith("analysis nan left out: ") and "finite fraction" in found.warnings[2]


def test_two_analyses_of_one_name_are_one_line(monkeypatch):
    class Twin(Analysis):
        name = "circular"

    shipped = plugins_discover("medbench.analysis", "ANALYSIS")
    monkeypatch.setattr(plugin, "discover", lambda package, attribute: [*shipped, Twin()])
    with pytest.raises(MedbenchError, match="two analyses are named 'circular'"):
        plugin.registered()


def test_an_installed_analysis_that_does_not_load_fails_before_a_model_loads(monkeypatch, tmp_path):
    from medbench.run.planning import plan

    class Broken:
        name, group, value = "broken", "medbench.analysis", "fakeana_missing:ANALYSIS"

        def load(self):
            raise ModuleNotFoundError("No module named 'fakeana_missing'")

    installed = {"medbench.analysis": [Broken()]}
    monkeypatch.setattr(plugins, "entry_points", lambda group: installed.get(group, []))
    with pytest.raises(MedbenchError, match="plug-in broken .* does not load: ModuleNotFoundError"):
        plan(RunConfig(model="tiny", tasks=["cmexam"], output=str(tmp_path)))
