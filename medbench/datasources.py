"""Reading benchmark files in their official on-disk layouts, and remembering what was read.

Every task declares its files relative to a data folder (``--data-dir``, the ``data_dir`` metadata
key of lm-eval, or ``MEDBENCH_DATA``). Rows that cannot be scored are skipped, counted, and reported
with file and row; a missing column stops the run with one line naming the file and the columns
expected. Each file read is fingerprinted so a run folder can say exactly which data it saw.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from medbench.errors import MedbenchError

log = logging.getLogger("medbench")

DATA_ENV = "MEDBENCH_DATA"


@dataclass
class Skipped:
    """One row left out of a task, and why."""

    task: str
    file: str
    row: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file} row {self.row}: {self.reason}"


@dataclass
class DataLedger:
    """What this process read: file fingerprints and skipped rows, per task (the run folder reads it)."""

    files: dict[str, str] = field(default_factory=dict)
    skipped_by_row: dict[tuple[str, int], Skipped] = field(default_factory=dict)
    excluded: dict[str, int] = field(default_factory=dict)

    @property
    def skipped(self) -> list[Skipped]:
        return list(self.skipped_by_row.values())

    def skip(self, rows: list[Skipped]) -> list[Skipped]:
        """Record skipped rows; returns those not seen before (a run reads each file more than once)."""
        new = [row for row in rows if (row.file, row.row) not in self.skipped_by_row]
        for row in new:
            self.skipped_by_row[(row.file, row.row)] = row
        return new

    def fingerprint(self, path: Path) -> None:
        key = str(path.resolve())
        if key not in self.files:
            self.files[key] = sha256_file(path)

    def report(self) -> dict:
        """The run folder's ``data.json``."""
        return {
            "files_sha256": self.files,
            "skipped_rows": [asdict(s) for s in self.skipped],
            "excluded_items": self.excluded,
        }

    def reset(self) -> None:
        self.files.clear()
        self.skipped_by_row.clear()
        self.excluded.clear()


LEDGER = DataLedger()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path | None:
    """The data folder to read: the explicit one, else ``MEDBENCH_DATA``, else none (hub or error)."""
    chosen = data_dir or os.environ.get(DATA_ENV)
    if not chosen:
        return None
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise MedbenchError(f"data folder {path} does not exist (from --data-dir or ${DATA_ENV})")
    return path


@dataclass
class Row:
    """One record of a data file, with where it came from (for error messages)."""

    file: str
    number: int
    data: dict
    problem: str | None = None  # e.g. the line is not valid JSON (``data`` is then empty)


def read_csv(path: Path, required: list[str]) -> Iterator[Row]:
    """Rows of an official CSV (UTF-8, optional BOM); ``number`` counts data rows from 1."""
    LEDGER.fingerprint(path)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        if missing:
            raise MedbenchError(
                f"{path}: missing column(s) {', '.join(missing)}; expected columns {', '.join(required)}"
            )
        for number, record in enumerate(reader, start=1):
            yield Row(str(path), number, record)


def read_jsonl(path: Path) -> Iterator[Row]:
    """Rows of a JSON-lines file (``number`` is the line); a line that is not a JSON object comes with
    ``data == {}`` and a ``problem`` the caller reports or skips."""
    LEDGER.fingerprint(path)
    with open(path, encoding="utf-8-sig") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Row(str(path), number, {}, f"not valid JSON ({exc.msg})")
                continue
            if isinstance(record, dict):
                yield Row(str(path), number, record)
            else:
                yield Row(str(path), number, {}, "expected a JSON object")


def require_file(path: Path, task: str, hint: str) -> Path:
    if not path.is_file():
        raise MedbenchError(f"{task}: missing data file {path} ({hint})")
    return path
