"""The declared shape of every YAML plug-in file medbench reads: judge rubrics (``judges/``), suites
(``suites/``), bias scales (``bias/``), training recipes (``trainers/``), the leaderboard's
benchmark groups (``reports/benchmarks.yaml``) and benchmarks' pinned sources
(``tasks/<benchmark>/_sources_yaml``).

Each is a pydantic model with ``extra="forbid"`` (a misspelt key is an error, not a silently ignored
setting) and strict types; :func:`checked` reads a file against one and makes any problem one line
naming the file and the field (``judges/x.yaml: field verdicts: field required``), never a
``KeyError`` traceback from deep inside a command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from medbench.config.fields import validate
from medbench.core.errors import MedbenchError

Lang = Literal["zh", "en"]


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Dimension(_File):
    name: str
    prompt: dict[Lang, str] = Field(min_length=1)


class Rubric(_File):
    """A judge rubric: pairwise (``verdicts``: label -> win/loss/tie per language) or pointwise
    (``score_pattern``: a regex whose first group is the score)."""

    rubric: str
    version: int
    source: str
    kind: Literal["pairwise", "pointwise"] = "pairwise"
    dimensions: list[Dimension] = Field(min_length=1)
    answer_names: dict[Lang, Annotated[list[str], Field(min_length=2, max_length=2)]] | None = None
    verdicts: dict[Lang, dict[str, Literal["win", "loss", "tie"]]] | None = None
    score_pattern: str | None = None

    @model_validator(mode="after")
    def _verdicts_or_scores(self) -> Rubric:
        if self.kind == "pairwise" and not self.verdicts:
            raise ValueError("a pairwise rubric needs verdicts (label -> win, loss or tie, per language)")
        if self.kind == "pointwise" and not self.score_pattern:
            raise ValueError("a pointwise rubric needs score_pattern (a regex; group 1 is the score)")
        return self


class SuitePart(_File):
    name: str
    tasks: list[str] = Field(min_length=1)
    repeats: int | None = Field(None, ge=1)
    preset: str | None = None
    mode: Literal["loglik", "gen"] | None = None
    shots: int | None = Field(None, ge=0)


class SuiteJudge(_File):
    rubric: str
    tasks: list[str] = Field(min_length=1)


class Suite(_File):
    """One paper's evaluation: run parts, bias scales, a judge step, the paper tables to write."""

    suite: str
    paper: str
    parts: list[SuitePart] = []
    bias: list[str] = []
    judge: SuiteJudge | None = None
    tables: list[str] = []
    conventions: dict[str, str] = {}
    headline_convention: dict[str, str] = {}


class ScaleItem(_File):
    no: int
    keyed: Literal["agree_is_negative", "disagree_is_negative"]
    subscale: str | None = None
    text_zh: str | None = None
    text_en: str | None = None
    wording_verified: bool | None = None


class Scale(_File):
    """An attitude scale: its options per language and its items (texts where they may be shipped)."""

    scale: str
    name: str
    source: str
    acknowledgement: str | None = None
    get_items: str | None = None
    complete_items: int = Field(ge=1)
    subscales: dict[str, str] = {}
    options: dict[Lang, list[str]]
    items: list[ScaleItem] = Field(min_length=1)


class Recipe(_File):
    """A training recipe: the base model, where stage outputs go, and each stage's settings (checked
    by the stage's own config when that stage runs)."""

    recipe: str
    base_model: str
    output_root: str | None = None
    stages: dict[str, dict[str, Any]] = Field(min_length=1)


class Chance(_File):
    value: float = Field(ge=0, le=100)
    note: str


class BenchmarkGroup(_File):
    tasks: list[str] = Field(min_length=1)
    chance: Chance | None = None


Hex40 = Annotated[str, Field(pattern=r"^[0-9a-f]{40}$")]


class PinnedFile(_File):
    """One file of a benchmark at a commit of a git host (:mod:`medbench.data.sources`)."""

    local: str = Field(min_length=1)  # the official path under a data folder
    repo: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
    commit: Hex40  # a commit, never a branch: the bytes cannot change under a published number
    path: str = Field(min_length=1)
    blob: Hex40 | None = None  # git's blob id of the bytes
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    size: Annotated[int, Field(gt=0)] | None = None  # bytes: bounds a download's size and time
    serves: str | None = None  # the official path a copy in another layout stands in for
    layout: str | None = None  # that layout's reader, declared by the benchmark (``Layout.variants``)
    archive: bool = False  # a zip whose members are the files of the official folder ``serves``

    @model_validator(mode="after")
    def _pinned(self) -> PinnedFile:
        if not (self.blob or self.sha256):
            raise ValueError("a pinned file needs its git blob id or its sha256 (or both)")
        if self.archive and not self.serves:
            raise ValueError("an archive needs serves: the official folder its members stand in for")
        return self


class SourceFile(_File):
    """``tasks/<benchmark>/_sources_yaml``: where a benchmark's public files come from."""

    benchmark: str
    licence: str = Field(min_length=1)
    official: bool  # the publishers' own release, or a third-party copy
    note: str = ""
    files: list[PinnedFile] = Field(min_length=1)


def read_yaml(path: Path) -> Any:
    """A YAML file's content; unreadable or unparsable is one line naming the file."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise MedbenchError(f"{path}: not a readable YAML file ({first})") from None


def checked(path: Path, schema: Any) -> Any:
    """``path`` read and validated against ``schema`` (a model, or a type such as
    ``dict[str, BenchmarkGroup]``), as plain data holding only what the file says (defaults are the
    model's to apply)."""
    value = validate(schema, read_yaml(path), source=str(path))
    return TypeAdapter(schema).dump_python(value, exclude_unset=True, exclude_none=True)
