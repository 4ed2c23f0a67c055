"""``medbench explain RUN... --task T``: why a number differs from a paper's or another harness's.

For one task it lists every score the given run folders hold -- each metric under each convention, for
each scoring mode (log-likelihood or generation: ``T``, ``T_loglik``, ``T_gen``; CMExam's own accuracy
rule: ``T_official``) and prompt style -- with the items behind it. Nothing is recomputed: it reads
``metrics.json`` and ``config.json`` through the run's record. The usual answers to "why is my number
different" are all in one table: another tokenization (sacrebleu-zh vs cmexam-official), another
placement of NER mentions, another mode, another prompt style, a micro vs macro average, or items left
out.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pandas as pd

from medbench.analysis.summary import Score
from medbench.backends import registry
from medbench.config.record import RunRecord
from medbench.core.errors import MedbenchError

VARIANTS = ("", "_gen", "_loglik", "_official")


def _read(run: Path) -> tuple[dict, list[dict]]:
    """The run's settings and scores, each checked by its record (one line naming the file if not)."""
    record = RunRecord.open(run)
    return record.config(), [asdict(s) for s in record.scores(Score)]


def _mode(task: str, config: dict) -> str:
    if task.endswith("_loglik"):
        return "loglik"
    backend = registry().get(config.get("backend", "hf"))
    if task.endswith("_gen") or (backend is not None and not backend.capabilities.loglik):
        return "gen"
    return config.get("mode") or "task default"


def explain(runs: list[str], task: str) -> pd.DataFrame:
    """One row per (run, scoring variant, metric): value x100, n, excluded, convention."""
    rows = []
    for run in runs:
        config, metrics = _read(Path(run))
        for s in metrics:
            if s["task"] not in {task + v for v in VARIANTS}:
                continue
            excluded = sum(s.get(f"n_{why}", 0) for why in ("failed", "malformed", "duplicate"))
            rows.append(
                {
                    "run": Path(run).name,
                    "task": s["task"],
                    "mode": _mode(s["task"], config),
                    "prompt style": config.get("prompt_style", ""),
                    "metric": s["metric"],
                    "value x100": None if s["value"] is None else round(100 * s["value"], 2),
                    "n": s["n"],
                    "excluded": excluded,
                    "convention": s.get("convention") or "",
                }
            )
    if not rows:
        raise MedbenchError(
            f"no scores of task {task} (or {task}_gen, {task}_loglik, {task}_official) in the given run "
            "folders"
        )
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame) -> str:
    return table.to_markdown(index=False) + "\n"
