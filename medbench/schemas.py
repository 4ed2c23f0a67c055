"""The files one command writes and another reads, declared with their schema version.

Run, judge and bias folders record ``schema_version`` in ``config.json`` (written by
:meth:`medbench.rundir.RunFolder.write_config`); a model card carries its own. Scores
(``metrics.json``) are :class:`medbench.summary.Score` records, a run's ``status.json`` a
:class:`RunStatus`, a trained model's ``medbench_model_card.json`` a :class:`ModelCard`. Readers go
through :func:`read`: a file from a newer, incompatible medbench, or one missing a field, is one line
naming the file and what is wrong -- never a misread number.

Versions: 1 = folders before the version key (openai options at the top of config.json); 2 = backend
options under ``backend_options``, model cards versioned.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from medbench.config.fields import affecting
from medbench.config.run import RunConfig
from medbench.errors import MedbenchError

SCHEMA_VERSION = 2

#: run settings (config.json keys) that change a model's answer to an item: a request cache is shared
#: only by runs that agree on every one of them (and on the model, backend and the backend options
#: that declare ``answer=True``: :func:`medbench.config.identity.answer_identity`); declared on
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


def check_version(data: dict, path: Path) -> None:
    version = data.get("schema_version", 1)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise MedbenchError(
            f"{path}: written by a newer medbench (schema {version}; this medbench reads schemas "
            f"1-{SCHEMA_VERSION}): upgrade medbench to read it"
        )


def build(cls: type[T], data: Any, path: Path) -> T:
    """A ``cls`` record from parsed JSON; a missing field or a value of another shape is one line."""
    if not isinstance(data, dict):
        raise MedbenchError(f"{path}: expected a JSON object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    required = [n for n, f in known.items() if f.default is MISSING and f.default_factory is MISSING]
    missing = [n for n in required if n not in data]
    if missing:
        raise MedbenchError(f"{path}: missing field(s) {', '.join(missing)} (a {cls.__name__} record)")
    for name, value in data.items():
        if name in known and value is not None and not _fits(value, hints[name]):
            raise MedbenchError(f"{path}: field {name} is {type(value).__name__}, not {hints[name]}")
    return cls(**{k: v for k, v in data.items() if k in known})


def _fits(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint) or hint
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in typing.get_args(hint) if a is not type(None))
    if origin is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (dict, list, str, bool):
        return isinstance(value, origin)
    return True  # Any


def read(cls: type[T], path: Path) -> T:
    """``path`` parsed as a ``cls`` record, its schema version checked."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MedbenchError(f"{path}: not readable JSON ({type(exc).__name__})") from None
    if isinstance(data, dict):
        check_version(data, path)
    return build(cls, data, path)
