"""Issue 37: analyses are plug-ins over the per-item records. ``medbench run`` runs every registered
one (circular, slices, margins, letters, and any module added to ``medbench/analysis/``: the
CONTRIBUTING walkthrough adds one and sees it in metrics.json, results.md and the report page); what a
plug-in returns is checked like received input."""

from __future__ import annotations

from pathlib import Path

import pytest

from medbench.analysis import plugin
from medbench.analysis.plugin import Analysis, Context, Finding
from medbench.config.run import RunConfig
from medbench.core.errors import MedbenchError


def _context(**settings) -> Context:
    return Context(RunConfig(model="m", tasks=["t"], **settings), {}, Path("."), 1e-3)


def test_the_shipped_analyses_are_registered_in_their_order():
    assert [a.name for a in plugin.registered()] == ["circular", "slices", "margins", "letters"]


def test_an_analysis_runs_only_where_it_applies():
    applies = {a.name: a.applies(_context()) for a in plugin.registered()}
    assert applies == {"circular": False, "slices": False, "margins": True, "letters": True}
    assert {a.name for a in plugin.registered() if a.applies(_context(circular=True))} >= {"circular"}


class _Writes(Analysis):
    order = 1

    def __init__(self, name: str, file: str) -> None:
        self.name, self.file = name, file

    def run(self, context: Context) -> Finding:
        return Finding(files={self.file: []})


@pytest.mark.parametrize("file", ["../x.json", "a/b.json", "results.md", "x" * 300 + ".json", "metrics.json"])
def test_an_analysis_cannot_write_outside_its_own_json_file(monkeypatch, file):
    others = [_Writes("one", "metrics.json")] if file == "metrics.json" else []
    monkeypatch.setattr(plugin, "registered", lambda: [*others, _Writes("bad", file)])
    with pytest.raises(MedbenchError, match="analysis bad: cannot write"):
        plugin.apply(_context())


def test_two_analyses_of_one_name_are_one_line(monkeypatch):
    class Twin(Analysis):
        name = "circular"

    class Entry:
        def load(self) -> Analysis:
            return Twin()

    monkeypatch.setattr(plugin, "entry_points", lambda group: [Entry()])
    with pytest.raises(MedbenchError, match="two analyses are named 'circular'"):
        plugin.registered()
