"""``BiasConfig``: the settings of ``medbench bias`` (attitude scales), declared once: its flags and
checks come from these fields; those it shares with ``run`` are declared there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field

from medbench.config.fields import same_as, setting
from medbench.config.run import RunConfig, Seed


@dataclass
class BiasConfig:
    scale: Literal["cami", "mica", "all"] = setting(
        help="the scale (all: every scale whose items are at hand)"
    )
    model: str | None = same_as(RunConfig, "model")
    mode: Literal["gen", "loglik"] | None = setting(
        None,
        "gen: the paper's protocol (a reply read for an option); loglik: option log-likelihoods "
        "(default where the backend scores them, as local models do; else gen)",
        affects="answer",
    )
    lang: Literal["zh", "en"] = setting("zh", "the language of the items and options", affects="answer")
    items: str | None = setting(None, "MICA item texts (JSON); MICA's publisher forbids shipping them")
    repeats: Annotated[int, Field(ge=1)] = setting(
        1, "ask each item R times", what="at least 1", affects="items"
    )
    option_order: Literal["as-is", "reversed", "shuffled"] = setting(
        "as-is", "the order options are shown in", affects="answer"
    )
    seed: Seed = same_as(RunConfig, "seed")
    temperature: Annotated[float | None, Field(ge=0, allow_inf_nan=False)] = same_as(RunConfig, "temperature")
    max_new_tokens: int = setting(32, flag=False)
    output: str = same_as(RunConfig, "output")
    backend: str = same_as(RunConfig, "backend")
    backend_options: dict = same_as(RunConfig, "backend_options")
