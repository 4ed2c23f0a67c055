"""One run folder, read one way: :class:`RunRecord` and its declared per-item record, :class:`Item`.

``medbench run`` writes the folder (its layout: :mod:`medbench.run.rundir`); every other command --
report, compare, explain, merge, judge, the demo -- reads it back through this record, so each file is
checked once, like any received input: a missing or malformed file is one line naming the file and
what was expected, never a misread number. Files are read when first asked for and parsed once per
record. Each per-sample line declares its unit of analysis (``unit``: :mod:`medbench.core.units`), so
every reader counts questions, never rotations or repeats.

Score-shaped files hold records of classes declared above this package (``Score``, ``Slice``): their
accessors take that class, so the record stays below every package that reads it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from medbench.config import schemas
from medbench.config.fields import validate
from medbench.config.run import RunConfig
from medbench.core import sample_files, units
from medbench.core.errors import MedbenchError
from medbench.core.safe_names import plain_name

T = TypeVar("T")


class Item(BaseModel):
    """One line of ``samples/<task>.jsonl``: which item, of which question, what the model was asked
    and replied, how it was scored, and whether its request failed. Fields medbench does not declare
    here (the judge's question and history, thinking, slice fields) are kept as written."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)

    doc_id: int | None = None  # lm-eval's number for the item in the run (a shard's: in the shard)
    id: str | int  # the item's own id in its data (a rotation's: ``q1#r2``); doc_id where none
    unit: str | None = None  # the question it asks (medbench.core.units); older folders: derived
    circular_of: str | int | None = None  # --circular: the question this rotation rotates
    rotation: int | None = None
    rotations: int | None = None  # how many rotations make the whole question
    order: list[int] | None = None  # which original option each position shows
    prompt: str | None = None
    messages: list | None = None  # --chat on a chat API: the messages sent, in place of a prompt
    raw: Any = None  # the reply, or log-likelihood MC's {letter: loglik}
    extracted: Any = None  # the answer read from the reply
    gold: Any = None
    correct: bool | None = None
    margin: float | None = None  # log-likelihood MC: the top option's lead over the runner-up
    metrics: dict[str, Any] = Field(default_factory=dict)  # per-item scalar metrics
    error: str | None = None  # the failure: its request failed after retries; no measure scores it

    @model_validator(mode="before")
    @classmethod
    def _id_defaults_to_doc_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("id") is None and "doc_id" in data:
            return {**data, "id": data["doc_id"]}
        return data

    @property
    def unit_id(self) -> str:
        """The unit of analysis this item counts toward."""
        return units.unit_of(self.line())

    def line(self) -> dict:
        """The record as written (with ``id``), for the readers that group plain records."""
        return self.model_dump(exclude_unset=True)


def item(value: object, where: str) -> Item:
    """A parsed per-sample line as an :class:`Item`; anything else is one line naming ``where``
    (``file:line``)."""
    if not isinstance(value, dict):
        raise MedbenchError(f"{where}: not a sample record (expected a JSON object)")
    try:
        return validate(Item, value)
    except MedbenchError as exc:
        raise MedbenchError(f"{where}: not a sample record ({exc})") from None


class RunRecord(BaseModel):
    """A run folder's files, each read through one accessor that checks it (see the module's doc). The
    generic accessors (:meth:`json`, :meth:`rows`, :meth:`has`) also read the folders read beside runs
    (a contamination audit's, a judge's summary), with the same one-line errors."""

    model_config = ConfigDict(frozen=True)

    path: Path
    _parsed: dict = PrivateAttr(default_factory=dict)

    @classmethod
    def open(cls, path: str | Path) -> RunRecord:
        """The record of the folder at ``path``; nothing is read until an accessor asks."""
        return cls(path=Path(path))

    def has(self, name: str) -> bool:
        """Whether the folder holds the file ``name`` (absent optional files are not errors)."""
        return (self.path / name).is_file()

    def json(self, name: str, what: str) -> Any:
        """The file ``name`` parsed (``what``: what it holds, for the error when it is missing)."""
        if name not in self._parsed:
            path = self.path / name
            if not path.is_file():
                raise MedbenchError(f"{path}: missing (not a complete run folder: {what})")
            try:
                self._parsed[name] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise MedbenchError(f"{path}: not readable JSON ({type(exc).__name__})") from None
        return self._parsed[name]

    def object(self, name: str, what: str) -> dict:
        """The file ``name`` as a JSON object."""
        data = self.json(name, what)
        if not isinstance(data, dict):
            raise MedbenchError(f"{self.path / name}: expected a JSON object, got {type(data).__name__}")
        return data

    def config(self) -> dict:
        """``config.json`` as written, its schema version and every known setting's type checked."""
        config = self.object("config.json", "the run's settings")
        schemas.check_run_config(config, self.path / "config.json")
        return config

    def settings(self) -> RunConfig:
        """``config.json`` as the settings it claims."""
        return schemas.check_run_config(self.config(), self.path / "config.json")

    def model(self) -> dict:
        """``model.json``: the model's fingerprint (path, config hash, weights sha256, served name)."""
        return self.object("model.json", "the model's fingerprint")

    def calls(self) -> dict:
        """``calls.json``: the requests that reached the model and those answered from the cache."""
        return self.object("calls.json", "its requests")

    def status(self) -> schemas.RunStatus:
        """``status.json``: whether every item of the run is scored."""
        return schemas.read(schemas.RunStatus, self.path / "status.json")

    def model_card(self) -> schemas.ModelCard:
        """``model_card.json``: the card of a model medbench trained, as the run found it."""
        return schemas.read(schemas.ModelCard, self.path / "model_card.json")

    def clean(self) -> schemas.CleanRecord:
        """``clean.json``: the audit a clean score rests on."""
        return schemas.read(schemas.CleanRecord, self.path / "clean.json")

    def scores(self, score: type[T]) -> list[T]:
        """``metrics.json`` as ``score`` records (medbench's ``Score``), each of its declared types,
        with plain task names (they name report pages) and numbers medbench could have written."""
        path = self.path / "metrics.json"
        data = self.json("metrics.json", "its scores")
        if not isinstance(data, list):
            raise MedbenchError(f"{path}: expected a list of scores")
        found = [schemas.build(score, s, path) for s in data]
        for raw, built in zip(data, found, strict=True):
            plain_name(built.task, "task name", path)
            schemas.check_score(raw, path)
        return found

    def entries(self, name: str, cls: type[T]) -> list[T]:
        """A file holding a list of ``cls`` records (``slices.json``: medbench's ``Slice``)."""
        data = self.json(name, f"a list of {cls.__name__} records")
        if not isinstance(data, list):
            raise MedbenchError(f"{self.path / name}: expected a list of {cls.__name__} records")
        return [schemas.build(cls, e, self.path / name) for e in data]

    def files_sha256(self) -> dict[str, str]:
        """``data.json``'s data files by name -> sha256: what the run's numbers rest on."""
        files = self.json("data.json", "the data it read")
        files = files.get("files_sha256") if isinstance(files, dict) else None
        if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
            raise MedbenchError(
                f"{self.path / 'data.json'}: no files_sha256 (expected an object mapping each data file "
                "to its sha256)"
            )
        return files

    def lm_eval_results(self, name: str = "results.json") -> dict:
        """lm-eval's results JSON (``name``: a repeat's ``results-<r>.json``)."""
        return self.object(name, "lm-eval's results")

    def fragile_margin(self) -> float | None:
        """The fragile margin (nats) the run used, from ``margins.json``; None where it scored no
        log-likelihood MC item. One positive threshold, or one line."""
        if not self.has("margins.json"):
            return None
        data = self.json("margins.json", "its fragile items")
        found = {r.get("threshold") for r in data if isinstance(r, dict)} if isinstance(data, list) else set()
        if len(found) != 1 or not all(type(t) is float and 0 < t < 100 for t in found):
            raise MedbenchError(
                f"{self.path / 'margins.json'}: expected a list of records with one positive threshold (nats)"
            )
        return found.pop()

    def rows(self, name: str) -> list[tuple[int, object]]:
        """A JSON-lines file of the folder (``contamination.jsonl``, ``failures.jsonl``): (line number,
        parsed value or None) per non-blank line, for its reader to check row by row."""
        path = self.path / name
        if not path.is_file():
            raise MedbenchError(f"{path}: missing (not a complete folder: one JSON object per line)")
        return sample_files.lines(path)

    def results_markdown(self) -> str:
        """``results.md``: the table the run printed."""
        return (self.path / "results.md").read_text(encoding="utf-8")

    def sample_dir(self, repeat: int | None = None) -> Path:
        """``samples/``, or repeat ``repeat``'s ``samples-<repeat>/``."""
        return self.path / ("samples" if repeat is None else f"samples-{repeat}")

    def tasks(self, repeat: int | None = None) -> list[str]:
        """The tasks with a per-sample file, sorted."""
        folder = self.sample_dir(repeat)
        return sorted(p.stem for p in folder.glob("*.jsonl")) if folder.is_dir() else []

    def sample_file(self, task: str, repeat: int | None = None) -> Path:
        return self.sample_dir(repeat) / f"{plain_name(task, 'task name', self.path)}.jsonl"

    def lines(self, task: str, repeat: int | None = None) -> list[tuple[int, object]]:
        """A per-sample file's (line number, parsed value or None) -- for a reader that shows what it
        can and says what it left out (the report's sample browser)."""
        path = self.sample_file(task, repeat)
        if not path.is_file():
            raise MedbenchError(f"{path}: no such per-sample file")
        return sample_files.lines(path)

    def items(self, task: str, repeat: int | None = None) -> list[Item]:
        """A task's per-sample records, each checked (one line naming file and line otherwise)."""
        key = ("items", task, repeat)
        if key not in self._parsed:
            path = self.sample_file(task, repeat)
            self._parsed[key] = [item(v, f"{path}:{n}") for n, v in self.lines(task, repeat)]
        return self._parsed[key]

    def samples(self, task: str, repeat: int | None = None) -> list[dict]:
        """A task's per-sample records, checked, as written (with ``id``)."""
        return [i.line() for i in self.items(task, repeat)]

    def all_samples(self, repeat: int | None = None) -> dict[str, list[dict]]:
        """Every task's per-sample records: task -> its records."""
        return {task: self.samples(task, repeat) for task in self.tasks(repeat)}
