"""``JudgeConfig``: the settings of ``medbench judge`` and ``arena``, declared once. The judge's own
flags come from these fields; its chat client's (``--base-url``, ``--concurrency``, ...) are the
``openai`` backend's options, declared and checked there
(:func:`medbench.backends.flags.add_client_arguments`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field

from medbench.config.fields import same_as, setting
from medbench.config.run import SEED_RANGE, RunConfig, Seed


@dataclass
class JudgeConfig:
    runs: list[str] = setting(flag=False)  # the command's --runs (two for judge, several for arena)
    rubric: str = setting(help="a rubric in judges/ (iimedgpt_pf, zhongjing_spf, ...)")
    judge_model: str | None = setting(None, "the judge's model name on its server (one judge)")
    base_url: str | None = setting(None, flag=False)  # the client's: the openai backend's options
    judges: list[str] = setting(
        help="one judge of a jury: NAME=MODEL@URL, then optionally ,key_env=VAR ,concurrency=N "
        ",timeout=S ,price_in=P ,price_out=P ,family=F (F: a model family it shares with a judged "
        "model); repeat per judge",
        flag="--judge",
        repeat=True,
        factory=list,
        metavar="NAME=MODEL@URL",
    )
    aggregate: Literal["majority", "mean", "unanimous"] = setting(
        "majority", "how a jury's verdicts combine (a split jury is a tie; see the README)"
    )
    min_valid_judges: Annotated[int, Field(ge=1)] = setting(
        1, "an item with fewer valid verdicts is excluded and counted, never guessed", what="1 or more"
    )
    human: str | None = setting(None, "human ratings CSV (id, dimension, verdict, rater; see the README)")
    task: str | None = setting(None, "the generation task to judge (when a run has several)")
    lang: Literal["zh", "en"] = setting("zh", "the language of the rubric's prompt")
    order: Literal["both", "random"] = setting("both", "both orders, or one (half cost)")
    concurrency: int = setting(8, flag=False)
    max_retries: int = setting(5, flag=False)
    timeout: float = setting(120.0, flag=False)
    max_reply_chars: int = setting(65536, flag=False)
    seed: Seed = setting(
        1234, "seed of the answers' seats (--order random, --human-template)", what=SEED_RANGE
    )
    output: str = same_as(RunConfig, "output")
    cache: str | None = setting(None, flag=False)  # default <output>/.judge-cache.sqlite
    price_in: Annotated[float, Field(ge=0)] = setting(0.0, "cost per 1M prompt tokens", what="0 or more")
    price_out: Annotated[float, Field(ge=0)] = setting(0.0, "cost per 1M completion tokens", what="0 or more")
