"""``medbench judge``: pairwise win/tie/loss between two run folders with an LLM judge, or a jury of
several (``--judge NAME=MODEL@URL``, :mod:`medbench.judge.jury`), with each judge's biases, the
jury's agreement and agreement with human raters in the same summary.

Rubrics are data (``judges/<name>.yaml``): per dimension a prompt (zh/en) and the verdict labels.
Every pair is judged in both orders by default; a verdict counts as a win (or loss) only if both orders
agree, otherwise it is a tie, and the position-consistency rate is reported (``--order random`` judges
one random order per item: half the cost, and said so). Items whose answer failed in either run (an
API error recorded in the run's samples) are not judged: an empty answer would lose every comparison;
they are counted as ``excluded_failed``. Requests run concurrently through :mod:`medbench.models.chatcall`
(retries on 429/5xx/timeouts and on replies that are not chat completions). A reply that names no
verdict (or two) is asked once more, then recorded as a parse failure. Every finished request is kept
in a persistent JSON cache keyed on (judge model, rubric and version, prompt) -- the prompt holds both
answers -- so a re-run makes no request for finished work and a killed judge resumes where it stopped.

May import: core, config, data, models, backends, scoring, analysis, run (medbench's packages).
"""

from __future__ import annotations

from medbench.backends.openai_api import OpenAIConfig
from medbench.core.errors import MedbenchError
from medbench.judge.items import paired_items
from medbench.judge.readable import silent
from medbench.judge.rubric import combine, load_rubric, parse_verdict
from medbench.judge.session import JudgeConfig
from medbench.run.rundir import RunFolder

__all__ = [
    "JudgeConfig",
    "combine",
    "judge_incomplete",
    "load_rubric",
    "paired_items",
    "parse_verdict",
    "run_judge",
    "write_human_template",
]


def _checked(config: JudgeConfig) -> dict:
    """The rubric, after the checks every judge command makes (two runs, a known order, the rubric's
    language)."""
    if len(config.runs) != 2:
        raise MedbenchError("medbench judge compares exactly two runs: --runs RUN_A RUN_B")
    if config.order not in ("both", "random"):
        raise MedbenchError(f"unknown order '{config.order}' (both or random)")
    rubric = load_rubric(config.rubric)
    if any(config.lang not in d["prompt"] for d in rubric["dimensions"]):
        raise MedbenchError(f"rubric {config.rubric} has no '{config.lang}' prompt")
    return rubric


def write_human_template(config: JudgeConfig):
    """The sheet human raters fill in for two runs (see :mod:`medbench.judge.human`)."""
    from medbench.judge.human import write_template

    rubric = _checked(config)
    if rubric.get("kind") == "pointwise":
        raise MedbenchError(f"rubric {config.rubric} is pointwise: the human sheet is for pairwise verdicts")
    return write_template(config, rubric)


def judge_incomplete(summary: dict) -> str | None:
    """Why a judge summary is incomplete -- a judge gave no readable verdict on a dimension, a judge's
    requests failed (not cached: a re-run asks them again), or items had too few valid verdicts -- or
    None."""
    unread = [
        f"{who} gave no readable verdict on {dim} ({asked} asked; its replies are in requests.jsonl)"
        for who, dim, asked in silent(summary)
    ]
    reasons = []
    judges = summary.get("judges") or {"the judge": summary}
    for name, judged in judges.items():
        failed = judged["usage"]["failed"]
        if failed:
            reasons.append(f"{'judge ' if name != 'the judge' else ''}{name}: {failed} failed request(s)")
    few = sum(d.get("too_few_judges", 0) for d in summary["dimensions"].values())
    if few:
        reasons.append(
            f"{few} item-dimension(s) with fewer than {summary['min_valid_judges']} valid verdicts, excluded"
        )
    retry = "; ".join(reasons) + "; re-run to ask again" if reasons else ""
    return "; ".join(filter(None, [*unread, retry])) or None


def run_judge(config: JudgeConfig) -> tuple[RunFolder, dict]:
    """Judge two runs with a rubric (pairwise or pointwise, as the rubric says); one judge folder."""
    from medbench.judge.jury import jury_of
    from medbench.judge.pairwise import run_pairwise
    from medbench.judge.pointwise import run_pointwise

    client = [name for name in OpenAIConfig.options() if name != "model_name"]
    OpenAIConfig.from_options({k: getattr(config, k) for k in client})  # checked as the backend's are
    rubric = _checked(config)
    jury_of(config)  # the judges named, before any item is read
    if rubric.get("kind") == "pointwise":
        return run_pointwise(config, rubric)
    return run_pairwise(config, rubric)
