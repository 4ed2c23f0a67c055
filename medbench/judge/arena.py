"""``medbench arena``: judge every pair of runs and rank the models with a Bradley-Terry fit.

Each pair goes through :func:`medbench.judge.run_judge` (same rubric, cache and both-order rule, the
same jury and its combined verdict), so an arena over runs already judged pairwise costs nothing more.
Ties count as half a win for each side; a single virtual tie between every pair keeps strengths finite
when a model never wins. Ratings are on an Elo-like scale (400 * log10 strength, mean 1000) with
bootstrap 95% CIs over items; a bootstrap whose resamples all give one rating (every game a tie) has
no interval and says so (:data:`medbench.analysis.intervals.DEGENERATE`). A model's rank is 1 + the number of
models rated above it beyond doubt (their interval's low end above its high end), as Chatbot Arena
ranks: models the data cannot tell apart share a rank, and so do models without an interval (a
degenerate resample is no evidence of an order).
"""

from __future__ import annotations

import itertools
import json
import math
import random
from dataclasses import replace
from pathlib import Path

from medbench.analysis.intervals import DEGENERATE, percentile
from medbench.core.errors import MedbenchError
from medbench.core.safe_cells import markdown_lines
from medbench.judge import JudgeConfig, load_rubric, run_judge
from medbench.run.rundir import RunFolder

SCORE = {"win": 1.0, "tie": 0.5, "loss": 0.0}


def bradley_terry(n: int, games: list[tuple[int, int, float]], iterations: int = 500) -> list[float]:
    """Strengths by the MM algorithm (Hunter 2004); ``games`` are (i, j, score of i) with ties as 0.5."""
    wins = [0.0] * n
    counts = [[0.0] * n for _ in range(n)]
    for i, j in itertools.combinations(range(n), 2):  # one virtual tie per pair
        games = [*games, (i, j, 0.5)]
    for i, j, s in games:
        wins[i] += s
        wins[j] += 1 - s
        counts[i][j] += 1
        counts[j][i] += 1
    p = [1.0] * n
    for _ in range(iterations):
        p = [wins[i] / sum(counts[i][j] / (p[i] + p[j]) for j in range(n) if counts[i][j]) for i in range(n)]
        mean_log = sum(math.log(x) for x in p) / n
        p = [x / math.exp(mean_log) for x in p]
    return p


def ratings(strengths: list[float]) -> list[float]:
    return [1000 + 400 * math.log10(s) for s in strengths]


def _interval(draws: list[float]) -> list[float] | None:
    """The draws' 95% interval; None when every resample gave one rating (nothing to resample)."""
    return None if max(draws) - min(draws) < 1e-9 else list(percentile(draws))


def ranks(point: list[float], cis: list[list[float] | None]) -> list[int]:
    """Each model's rank: 1 + the models above it beyond doubt (shared ranks for the undecided)."""

    def above(k: int, other: int) -> bool:  # without both intervals there is no doubt-free order
        return cis[k] is not None and cis[other] is not None and cis[other][0] > cis[k][1]

    return [1 + sum(above(k, other) for other in range(len(point)) if other != k) for k in range(len(point))]


def run_arena(
    config: JudgeConfig, dimension: str | None = None, bootstrap: int = 300
) -> tuple[RunFolder, dict]:
    if len(config.runs) < 3:
        raise MedbenchError("an arena ranks three or more runs (for two, use medbench judge)")
    if config.human:
        raise MedbenchError("--human is for medbench judge (two runs and the sheet rated for them)")
    rubric = load_rubric(config.rubric)
    dimension = dimension or rubric["dimensions"][0]["name"]
    if dimension not in {d["name"] for d in rubric["dimensions"]}:
        raise MedbenchError(f"rubric {config.rubric} has no dimension '{dimension}'")
    names = [Path(r).name for r in config.runs]
    per_pair: dict[tuple[int, int], list[float]] = {}
    judge_folders = []
    for i, j in itertools.combinations(range(len(config.runs)), 2):
        folder, _ = run_judge(replace(config, runs=[config.runs[i], config.runs[j]]))
        judge_folders.append(str(folder.path))
        verdicts = [
            json.loads(x) for x in (folder.path / "verdicts.jsonl").read_text(encoding="utf-8").splitlines()
        ]
        per_pair[(i, j)] = [
            SCORE[v["final"]] for v in verdicts if v["dimension"] == dimension and v.get("final")
        ]
    games = [(i, j, s) for (i, j), scores in per_pair.items() for s in scores]
    point = ratings(bradley_terry(len(names), games))
    rng = random.Random(config.seed)
    samples = []
    for _ in range(bootstrap):
        resampled = [
            (i, j, s)
            for (i, j), scores in per_pair.items()
            if scores
            for s in rng.choices(scores, k=len(scores))
        ]
        samples.append(ratings(bradley_terry(len(names), resampled, iterations=200)))
    cis = [_interval([sample[k] for sample in samples]) for k in range(len(names))]
    rank = ranks(point, cis)
    order = sorted(range(len(names)), key=lambda k: (rank[k], -point[k]))
    summary = {
        "rubric": config.rubric,
        "dimension": dimension,
        "ranking": [
            {"rank": rank[k], "model": names[k], "run": config.runs[k], "rating": point[k], "ci95": cis[k]}
            | ({} if cis[k] else {"ci_note": DEGENERATE})
            for k in order
        ],
        "games": {f"{names[i]} vs {names[j]}": len(s) for (i, j), s in per_pair.items()},
        "judge_folders": judge_folders,
        "jury": config.judges or [config.judge_model],
        "aggregate": config.aggregate if config.judges else None,
    }
    folder = RunFolder.create(Path(config.output), f"arena-{config.rubric}")
    folder.write_json("summary.json", summary)
    lines = [
        f"Bradley-Terry ranking ({config.rubric}, {dimension}; ties count half; models share a rank "
        "unless one's interval lies wholly above the other's)",
        "",
    ]
    rows = [
        [
            row["rank"],
            row["model"],
            f"{row['rating']:.0f}",
            f"[{row['ci95'][0]:.0f}, {row['ci95'][1]:.0f}]" if row["ci95"] else f"none ({DEGENERATE})",
        ]
        for row in summary["ranking"]
    ]
    lines += markdown_lines(["Rank", "Model", "Rating", "95% CI"], rows, "rlrr")
    (folder.path / "results.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder, summary
