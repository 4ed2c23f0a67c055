"""Analyses as plug-ins over a run's per-item records.

An analysis reads what a run recorded per item (:mod:`medbench.core.sample_files`: every record names
its unit) and returns a :class:`Finding`: scores with their n and interval (they join metrics.json, so
the leaderboard and the report's task pages show them like any score), the run-folder files it writes,
its section of results.md and any warning. ``medbench run`` (:func:`medbench.run.runner.record`) loops
over :func:`registered` instead of calling each analysis by name, so a new analysis is one module in
this package that names an ``ANALYSIS`` -- or one an installed distribution declares under the
entry-point group ``medbench.analyses``.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar

from medbench.analysis.summary import Score
from medbench.core.errors import MedbenchError

ENTRY_POINTS = "medbench.analyses"


@dataclass(frozen=True)
class Context:
    """What an analysis may read: the run's settings, its per-item records (task -> records, as read
    once from samples/), its folder, and the fragile margin its backend's precision sets."""

    config: Any  # the run's RunConfig
    records: dict[str, list[dict]]
    folder: Path
    margin_noise: float
    lm_eval_results: str = "results.json"  # lm-eval's own results file (its groups)


@dataclass
class Finding:
    scores: list[Score] = field(default_factory=list)
    files: dict[str, Any] = field(default_factory=dict)  # run-folder file name -> its JSON record
    markdown: str = ""  # its results.md section ("" for none)
    warnings: list[str] = field(default_factory=list)


class Analysis:
    """One analysis: ``name`` (unique), ``order`` (its place in metrics.json and results.md),
    ``applies`` (which runs: a setting, a mode) and ``run``."""

    name: ClassVar[str]
    order: ClassVar[int] = 100

    def applies(self, context: Context) -> bool:
        return True

    def run(self, context: Context) -> Finding:
        raise NotImplementedError


def registered() -> list[Analysis]:
    """Every analysis: this package's modules that name an ``ANALYSIS``, then the entry points'; in
    ``order``. Two of one name fail in one line."""
    import medbench.analysis as package

    found: list[Analysis] = []
    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_"):
            analysis = getattr(importlib.import_module(f"{package.__name__}.{module.name}"), "ANALYSIS", None)
            if analysis is not None:
                found.append(analysis)
    found += [entry.load() for entry in entry_points(group=ENTRY_POINTS)]
    names = [a.name for a in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise MedbenchError(f"two analyses are named {twice[0]!r}: each analysis needs its own name")
    return sorted(found, key=lambda a: (a.order, a.name))


def apply(context: Context) -> Finding:
    """Every registered analysis that applies, run; their findings in one (the runner writes the
    files into the run folder). A file name must be a plain ``<name>.json``: an analysis writes
    beside the run's own files, never elsewhere, and never over one another analysis wrote."""
    total = Finding()
    for analysis in registered():
        if not analysis.applies(context):
            continue
        found = analysis.run(context)
        for name in found.files:
            if not re.fullmatch(r"[a-z0-9_]{1,64}\.json", name) or name in total.files:
                raise MedbenchError(f"analysis {analysis.name}: cannot write {name!r} into the run folder")
        total.files.update(found.files)
        total.scores += found.scores
        total.markdown += found.markdown
        total.warnings += found.warnings
    return total
