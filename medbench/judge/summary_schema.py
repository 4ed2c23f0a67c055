"""The judge folder's ``summary.json`` as a reader takes it: the fields the report shows, declared with
their types. A received judge folder is someone else's file: the report validates it here, and a
summary of the wrong shape is one line naming the file (the folder is left out), never a traceback
or a number shown from a field of another type. Extra keys are allowed (older and newer summaries).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from medbench.config.fields import one_line

Rate = float | None


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", strict=False)


class Rates(_Open):
    win: Rate = None
    tie: Rate = None
    loss: Rate = None


class DimensionStats(_Open):
    items: int
    judged: int
    rates: Rates
    position_consistency: Rate = None
    parse_failures: int = 0
    request_errors: int = 0
    too_few_judges: int = 0


class Usage(_Open):
    requests: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated_cost: float = 0.0


class JudgeStats(_Open):
    dimensions: dict[str, DimensionStats]
    usage: Usage


class Stat(_Open):
    value: float | None
    ci95: list[float] | None = None
    n: int


class Agreement(_Open):
    cohen: dict[str, Stat]
    fleiss: Stat | None = None
    alpha: Stat | None = None


class LengthBin(_Open):
    n: Annotated[int, Field(ge=1)]
    longer_won: Annotated[int, Field(ge=0)]
    rate: float


class SeatBias(_Open):
    verdicts: int
    ties: int
    first_position_win_rate: Rate = None
    order_flip_rate: Rate = None
    longer_win_rate: Rate = None
    length_bins: dict[str, LengthBin] = {}
    length_slope_per_100_chars: float | None = None
    length_slope_ci95: list[float] | None = None


class SelfPreference(_Open):
    model: Literal["a", "b"]
    why: str


class Diagnostics(_Open):
    dimensions: dict[str, SeatBias]
    self_preference: SelfPreference | None = None


class JudgeReply(_Open):
    final: str | None = None
    replies: list[str] = []


class Disagreement(_Open):
    id: str
    dimension: str
    question: str
    answer_a: str
    answer_b: str
    final: str | None = None
    judges: dict[str, JudgeReply]


class HumanJudge(_Open):
    n: int
    accuracy: Rate = None
    kappa: Stat


class HumanDimension(_Open):
    raters: list[str]
    items: int
    raters_split: int = 0
    judges: dict[str, HumanJudge]


class Human(_Open):
    unrated: int = 0
    unknown_items: int = 0
    dimensions: dict[str, HumanDimension]


class JudgeSummary(_Open):
    task: str
    model_a: str
    model_b: str
    rubric: str
    dimensions: dict[str, DimensionStats]
    judges: dict[str, JudgeStats] | None = None
    agreement: dict[str, Agreement] | None = None
    diagnostics: dict[str, Diagnostics] | None = None
    disagreements: list[Disagreement] = []
    disagreements_total: int = 0
    human: Human | None = None


def checked(data: Any, path: Path) -> dict:
    """``data`` as a judge summary (one line naming ``path`` if it is not one), as plain data."""
    try:
        return JudgeSummary.model_validate(data).model_dump()
    except ValidationError as error:
        raise one_line(error, JudgeSummary, str(path)) from None
