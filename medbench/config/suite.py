"""``SuiteConfig``: the settings of ``medbench suite``; those it shares with ``run`` are declared on
:class:`~medbench.config.run.RunConfig` and referenced here (:func:`~medbench.config.fields.same_as`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field

from medbench.config.fields import same_as, setting
from medbench.config.judge import JudgeConfig
from medbench.config.run import RunConfig


@dataclass
class SuiteConfig:
    """``medbench suite``'s settings; those it shares with ``run`` are declared there (:func:`same_as`)."""

    suite: str = setting(flag=False)
    model: str | None = same_as(RunConfig, "model")
    data_dir: str | None = same_as(RunConfig, "data_dir")
    output: str = same_as(RunConfig, "output")
    limit: int | None = same_as(RunConfig, "limit")
    max_new_tokens: int | None = same_as(RunConfig, "max_new_tokens")
    baseline: str | None = setting(None, "run folder(s) of the baseline model, for the judge step")
    judge_model: str | None = setting(None, "the judge step's model (an OpenAI-compatible server)")
    judge_base_url: str | None = setting(None, "the judge's server (key from OPENAI_API_KEY)")
    judges: list[str] = same_as(JudgeConfig, "judges")  # a jury instead of one judge
    aggregate: Literal["majority", "mean", "unanimous"] = same_as(JudgeConfig, "aggregate")
    min_valid_judges: Annotated[int, Field(ge=1)] = same_as(JudgeConfig, "min_valid_judges")
    items: str | None = setting(None, "MICA item texts (JSON)")
    # the model's backend and its options, as for ``medbench run``
    backend: str = same_as(RunConfig, "backend")
    backend_options: dict = same_as(RunConfig, "backend_options")
    skipped: list[str] = setting(flag=False, factory=list)
