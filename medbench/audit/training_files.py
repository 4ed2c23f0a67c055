"""The training data a contamination audit checks: training files read as records of text, and the
files a medbench-trained model's card names.

Training files: ``.jsonl`` (one JSON value per line: every string in it is text), ``.json`` (a list of
such records), ``.csv`` (every cell), anything else a text file of lines. A line that is not JSON in a
``.jsonl`` file is one line naming file and row, never skipped in silence. A model card's files are
checked against the sha256 it recorded: an audit of edited files would not check what the model saw.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from medbench.core.errors import MedbenchError
from medbench.core.hashing import sha256_file
from medbench.data.datasources import read_text


def _strings(value) -> list[str]:
    """Every string in a JSON value (the text a training record holds), depth first; without
    recursion, so no nesting depth the JSON reader accepts can overflow the stack."""
    found, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, (dict, list)):
            stack.extend(reversed(list(item.values() if isinstance(item, dict) else item)))
    return found


def _json(text: str, where: str, expected: str):
    """One JSON value, or one line naming ``where``: not JSON, or nested deeper than the reader
    goes (Python's recursion limit: a 100,000-deep list)."""
    try:
        return json.loads(text)
    except ValueError:
        raise MedbenchError(f"{where}: {expected}") from None
    except RecursionError:
        raise MedbenchError(f"{where}: JSON nested too deep to read") from None


def _csv_rows(path: Path, text: str) -> Iterator[list[str]]:
    """The rows of a CSV training file. A cell may be as long as the file (a whole document): the
    csv module's 128 KB cell limit is raised to the file's length; any other problem names the row."""
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))
    reader = csv.reader(text.splitlines())
    try:
        yield from reader
    except csv.Error as exc:
        raise MedbenchError(f"{path}: row {reader.line_num}: not readable CSV ({exc})") from None


def training_records(path: Path) -> Iterator[list[str]]:
    """A training file's records, each as its text fields."""
    text = read_text(path, "training file")
    if path.suffix == ".jsonl":
        for row, line in enumerate(text.splitlines(), 1):
            if line.strip():
                yield _strings(
                    _json(line, f"{path}:{row}", "not a JSON value (a .jsonl file holds one per line)")
                )
    elif path.suffix == ".json":
        data = _json(text, str(path), "not readable JSON")
        for record in data if isinstance(data, list) else [data]:
            yield _strings(record)
    elif path.suffix == ".csv":
        for cells in _csv_rows(path, text):
            yield [c for c in cells if c]
    else:
        for line in text.splitlines():
            if line.strip():
                yield [line]


CARD = "medbench_model_card.json"


def card_files(model_dir: str, depth: int = 10) -> list[Path]:
    """The files a medbench-trained model was trained on: its card's, then its base model's (the
    stage before), each still holding the bytes the card's sha256 names; a held-out evaluation file is
    not training data and is left out."""
    from medbench.config import schemas

    files: list[Path] = []
    folder: str | None = model_dir
    while folder and depth:
        path = Path(folder) / CARD
        if not path.is_file():
            if folder == model_dir:
                raise MedbenchError(f"--model-card {model_dir}: no {CARD} (a model medbench trained has one)")
            break  # a base model medbench did not train
        card = schemas.read(schemas.ModelCard, path)
        held_out = _held_out(card.config.get("eval_data"))
        for name, digest in card.data_sha256.items():
            if held_out is not None and Path(name).resolve() == held_out:
                continue  # recorded, never read
            file = _inside(Path(folder), name, path)
            if not file.is_file():
                raise MedbenchError(f"{path}: training file {name[:200]} is missing from the model folder")
            if sha256_file(file) != digest:
                raise MedbenchError(
                    f"{path}: training file {name[:200]} changed since training (sha256 differs): the audit "
                    "would not check what the model saw"
                )
            files.append(file)
        folder, depth = card.base_model, depth - 1
    return list(dict.fromkeys(files))


def _inside(model: Path, name: str, card: Path) -> Path:
    """A training file a card names, inside its model folder (links resolved), or one line: a card
    received with a model must not make medbench read a file elsewhere (``/etc/os-release``)."""
    file = (model / name).resolve()
    if Path(name).is_absolute() or not file.is_relative_to(model.resolve()):
        raise MedbenchError(
            f"{card}: training file {name[:200]} is outside the model folder (a card names files "
            "inside it, as medbench train keeps them: training_data/)"
        )
    return file


def _held_out(spec) -> Path | None:
    """A stage's held-out evaluation file (``bundled:...`` or a path), resolved."""
    from medbench.core.paths import RESOURCES_DIR

    if not isinstance(spec, str) or not spec:
        return None
    return (
        RESOURCES_DIR / spec.removeprefix("bundled:") if spec.startswith("bundled:") else Path(spec)
    ).resolve()
