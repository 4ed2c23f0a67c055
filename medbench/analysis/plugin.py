"""Analyses as plug-ins over a run's per-item records.

An analysis reads what a run recorded per item (:mod:`medbench.core.sample_files`: every record names
its unit) and returns a :class:`Finding`: scores with their n and interval (they join metrics.json, so
the leaderboard and the report's task pages show them like any score), the run-folder files it writes,
its section of results.md and any warning. ``medbench run`` (:func:`medbench.run.runner.record`) loops
over :func:`registered` instead of calling each analysis by name, so a new analysis is one module in
this package that names an ``ANALYSIS`` -- or one an installed distribution declares under the
entry-point group ``medbench.analysis``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from medbench.analysis.summary import Score
from medbench.config.plugins import discover
from medbench.config.schemas import check_score
from medbench.core.errors import MedbenchError


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
    """Every analysis: this package's modules that name an ``ANALYSIS``, then those installed
    distributions declare (entry-point group ``medbench.analysis``; one that does not load is one
    line), in ``order``. Two of one name fail in one line. ``plan`` calls it, so a broken plug-in
    fails before a model loads."""
    found: list[Analysis] = discover("medbench.analysis", "ANALYSIS")
    names = [a.name for a in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise MedbenchError(f"two analyses are named {twice[0]!r}: each analysis needs its own name")
    return sorted(found, key=lambda a: (a.order, a.name))


#: files the run writes after its analyses: no analysis may write them
RESERVED = ("metrics.json", "status.json", "contamination.json", "clean.json")


def _checked(analysis: Analysis, found: Finding, context: Context, scored: set, written: set) -> None:
    """What a plug-in returned, checked like received input: plain new ``<name>.json`` files (not
    the run's own, not another analysis's), scores that are valid and new (an analysis adds numbers,
    never a second value of one the run has)."""
    for name in found.files:
        plain = re.fullmatch(r"[a-z0-9_]{1,64}\.json", name)
        if not plain or name in RESERVED or name in written or (context.folder / name).exists():
            raise MedbenchError(f"cannot write {name[:80]!r} into the run folder")
    for score in found.scores:
        key = (score.task, score.metric, score.convention)
        if key in scored:
            raise MedbenchError(f"{' '.join(filter(None, key))[:120]} is already scored")
        check_score(asdict(score), context.folder / "metrics.json")
        scored.add(key)


def apply(context: Context, scores: list[Score]) -> Finding:
    """Every registered analysis that applies, run over ``context``; their findings in one (the runner
    writes the files). ``scores``: the run's own. An analysis that fails, or returns what
    :func:`_checked` refuses, adds nothing: the run's own numbers stand, and a warning names it."""
    total = Finding()
    scored = {(s.task, s.metric, s.convention) for s in scores}
    for analysis in registered():
        if not analysis.applies(context):
            continue
        try:
            found = analysis.run(context)
            _checked(analysis, found, context, set(scored), set(total.files))
        except Exception as exc:  # a plug-in's bug must not lose the run's finished work
            why = str(exc) if isinstance(exc, MedbenchError) else f"{type(exc).__name__}: {exc}"
            total.warnings.append(f"analysis {analysis.name} left out: {why[:300]}")
            continue
        scored |= {(s.task, s.metric, s.convention) for s in found.scores}
        total.files.update(found.files)
        total.scores += found.scores
        total.markdown += found.markdown
        total.warnings += found.warnings
    return total
