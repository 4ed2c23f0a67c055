"""The files one command writes and another reads, declared with their schema version.

Run, judge and bias folders record ``schema_version`` in ``config.json`` (written by
:meth:`medbench.run.rundir.RunFolder.write_config`); a model card carries its own. Scores
(``metrics.json``) are :class:`medbench.analysis.summary.Score` records, a run's ``status.json`` a
:class:`RunStatus`, a trained model's ``medbench_model_card.json`` a :class:`ModelCard`. Readers go
through :func:`read`: a file from a newer, incompatible medbench, or one missing a field, is one line
naming the file and what is wrong -- never a misread number.

Versions: 1 = folders before the version key (openai options at the top of config.json); 2 = backend
options under ``backend_options``, model cards versioned.
"""

from __future__ import annotations

import functools
import json
import math
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model

from medbench.config.fields import affecting, validate
from medbench.config.run import RunConfig
from medbench.core.errors import MedbenchError

SCHEMA_VERSION = 2

#: run settings (config.json keys) that change a model's answer to an item: a request cache is shared
#: only by runs that agree on every one of them (and on the model, backend and the backend options
#: that declare ``answer=True``: :func:`medbench.run.identity.answer_identity`); declared on
#: :class:`RunConfig`'s fields
ANSWER_SETTINGS = affecting(RunConfig, "answer")

#: run settings that change which items are scored, or how often, not the answer to one
ITEM_SETTINGS = affecting(RunConfig, "items")

#: everything that changes the numbers: runs of one model that differ in any are different
#: leaderboard rows
RESULT_SETTINGS = (*ANSWER_SETTINGS, *ITEM_SETTINGS)


T = TypeVar("T")


@dataclass
class RunStatus:
    """``status.json``: is every item of the run scored? (false while any request failed)"""

    complete: bool
    n_failed: int = 0
    reason: str | None = None

    def record(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class ModelCard:
    """``medbench_model_card.json`` beside a model medbench built or trained."""

    builder: str = "medbench.train"
    recipe: str | None = None
    recipe_file: str | None = None
    stage: str = ""
    base_model: str | None = None
    data_sha256: dict[str, str] = field(default_factory=dict)
    steps: int = 0
    first_loss: float | None = None
    final_loss: float | None = None
    train_loss: float | None = None
    effective_batch_size: int | None = None
    config: dict[str, Any] = field(default_factory=dict)
    heldout: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION

    def record(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "heldout" or v is not None}


@dataclass
class CleanRecord:
    """A run's ``clean.json``: which audit each task's clean score (``clean_acc``) rests on and what it
    left out; the leaderboard marks the run's row from it."""

    audit: str  # the audit's contamination.jsonl
    sha256: str
    source: Literal["--exclude-contaminated", "model card"]  # the audit named, or the run's own
    tasks: dict[str, dict[str, int]]  # task -> scored, flagged_left_out, clean
    not_audited: list[str] = field(default_factory=list)


def check_version(data: dict, path: Path) -> None:
    version = data.get("schema_version", 1)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise MedbenchError(
            f"{path}: written by a newer medbench (schema {version}; this medbench reads schemas "
            f"1-{SCHEMA_VERSION}): upgrade medbench to read it"
        )


@functools.cache
def _strict_model(cls: type) -> type[BaseModel]:
    """``cls``'s fields as a strict pydantic model: a number written as text, a bool for a count or a
    missing field is an error, never converted (keys a newer medbench added are ignored)."""
    hints = typing.get_type_hints(cls)
    declared = {}
    for f in fields(cls):
        if f.default_factory is not MISSING:
            declared[f.name] = (hints[f.name], Field(default_factory=f.default_factory))
        else:
            declared[f.name] = (hints[f.name], ... if f.default is MISSING else f.default)
    config = ConfigDict(strict=True, extra="ignore", arbitrary_types_allowed=True)
    return create_model(f"{cls.__name__}Record", __config__=config, **declared)


def build(cls: type[T], data: Any, path: Path) -> T:
    """A ``cls`` record from parsed JSON, checked against its declared field types (strictly); the
    first problem is one line naming the file and the field."""
    if not isinstance(data, dict):
        raise MedbenchError(f"{path}: expected a JSON object, got {type(data).__name__}")
    model = _strict_model(cls)
    record = validate(model, data, source=str(path))
    return cls(**{name: getattr(record, name) for name in model.model_fields})


#: the largest item count a received score may state (more items than any benchmark has, by far)
MAX_COUNT = 10**9


def check_score(score: dict, path: Path) -> None:
    """A received score holds only numbers medbench writes: every value and interval end a finite
    fraction in [0, 1] (tables show them x100), an interval with width that holds its value, a value
    resting on items and equal to its repeats' mean, every count a whole number in [0, 10**9].
    Anything else (NaN, inf, 7.5, n = -4, 0.9 beside [0.1, 0.2]) is one line naming the file, task
    and field -- never a leaderboard cell."""
    where = f"{path}: {str(score.get('task'))[:80]} {str(score.get('metric'))[:40]}"
    fractions = {name: score.get(name) for name in ("value", "ci_low", "ci_high")}
    fractions.update({f"values[{i}]": v for i, v in enumerate(score.get("values") or [])})
    for name, value in fractions.items():
        if value is not None and not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
            raise MedbenchError(f"{where}: {name} must be a finite fraction in [0, 1], got {value!r}")
    stderr = score.get("stderr")
    if stderr is not None and not (isinstance(stderr, int | float) and 0.0 <= stderr < math.inf):
        raise MedbenchError(f"{where}: stderr must be a finite number >= 0, got {stderr!r}")
    for name in ("n", "n_failed", "n_malformed", "n_duplicate"):
        if not 0 <= score.get(name, 0) <= MAX_COUNT:
            raise MedbenchError(f"{where}: {name} must be a count in [0, {MAX_COUNT:,}], got {score[name]}")
    low, high, value, values = fractions["ci_low"], fractions["ci_high"], fractions["value"], score["values"]
    if value is not None and score["n"] == 0:
        raise MedbenchError(f"{where}: a value {value} resting on n = 0 items")
    if values and value is not None and abs(sum(values) / len(values) - value) > 1e-6:
        raise MedbenchError(f"{where}: value {value} is not the mean of its repeats' values {values}")
    if (low is None) != (high is None):
        raise MedbenchError(f"{where}: an interval needs both ends, got [{low}, {high}]")
    if low is not None and not (low < high and (value is None or low <= value <= high)):
        raise MedbenchError(
            f"{where}: the interval [{low}, {high}] must have width and hold the value {value} "
            "(medbench writes no zero-width interval and none beside its value)"
        )


def check_run_config(config: dict, path: Path) -> RunConfig:
    """A received run's ``config.json`` as the settings it claims: its version readable by this
    medbench, and every setting this medbench knows of its declared type (``"limit": "5"`` is one
    line naming the file and the field, never a text limit handed to lm-eval); keys it does not know
    (an older folder's) are ignored."""
    check_version(config, path)
    return build(RunConfig, {k: v for k, v in config.items() if k != "schema_version"}, path)


def read(cls: type[T], path: Path) -> T:
    """``path`` parsed as a ``cls`` record, its schema version checked."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MedbenchError(f"{path}: not readable JSON ({type(exc).__name__})") from None
    if isinstance(data, dict):
        check_version(data, path)
    return build(cls, data, path)
