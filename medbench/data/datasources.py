"""Reading benchmark files in their official on-disk layouts (what was read is recorded by
:mod:`medbench.data.datareport`).

Every task declares its files relative to a data folder (``--data-dir``, the ``data_dir`` metadata
key of lm-eval, or ``MEDBENCH_DATA``). Rows that cannot be scored are skipped, counted, and reported
with file and row; a missing column stops the run with one line naming the file and the columns
expected. Each file read is fingerprinted so a run folder can say exactly which data it saw.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from medbench.core.errors import MedbenchError

log = logging.getLogger("medbench")

DATA_ENV = "MEDBENCH_DATA"


def check_file(path: Path, what: str, hint: str = "") -> Path:
    """``path`` as a readable file, or one line saying what is there instead."""
    where = f" ({hint})" if hint else ""
    if path.is_dir():
        raise MedbenchError(f"{what}: {path} is a folder, expected a file{where}")
    if not path.is_file():
        raise MedbenchError(f"{what}: missing data file {path}{where}")
    if not os.access(path, os.R_OK):
        raise MedbenchError(f"{what}: {path} is not readable (permission denied)")
    return path


def _encoding_hint(raw: bytes, error: UnicodeDecodeError) -> str:
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "it starts with a UTF-16 byte-order mark"
    if b"\x00" in raw[:4096]:
        return "it holds NUL bytes: a binary file or UTF-16"
    if error.end >= len(raw) - 3 and error.reason.startswith("unexpected end"):
        return "it ends inside a multi-byte character: an incomplete download?"
    try:
        raw.decode("gb18030")
    except UnicodeDecodeError:
        return "not a text encoding medbench recognises"
    return "it decodes as GBK/GB18030: convert it with `iconv -f gb18030 -t utf-8`"


def read_text(path: Path, what: str = "data file") -> str:
    """A whole UTF-8 text file (optional BOM); any other encoding, an unreadable file
    or a folder is one line naming the file. Nothing is decoded by guessing."""
    check_file(path, what)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MedbenchError(f"{what}: cannot read {path} ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MedbenchError(
            f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}; {_encoding_hint(raw, exc)})"
        ) from None
    return text


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


#: the largest CSV field read (the csv module's default, 128 KB, is below some real explanations)
CSV_FIELD_LIMIT = 1 << 24


def read_csv(path: Path, required: list[str]) -> Iterator[Row]:
    """Rows of an official CSV (UTF-8, optional BOM); ``number`` counts data rows from 1.

    A row with more fields than the header (an unquoted comma shifts every field after it) or fewer
    comes with a ``problem``: it is reported, never read with its fields moved.
    """
    text = read_text(path)
    csv.field_size_limit(CSV_FIELD_LIMIT)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, [])
        missing = [c for c in required if c not in header]
        if missing:
            raise MedbenchError(
                f"{path}: missing column(s) {', '.join(missing)}; expected columns {', '.join(required)}"
            )
        number = 0
        for fields in reader:
            if not fields:
                continue
            number += 1
            if len(fields) != len(header):
                problem = f"{len(fields)} fields where the header has {len(header)}" + (
                    " (an unquoted comma?)" if len(fields) > len(header) else ""
                )
                yield Row(str(path), number, {}, problem)
                continue
            yield Row(str(path), number, dict(zip(header, fields, strict=True)))
    except csv.Error as exc:
        raise MedbenchError(f"{path} line {reader.line_num}: not a readable CSV row ({exc})") from None


def read_parquet(path: Path, required: list[str]) -> Iterator[Row]:
    """Rows of a Parquet file (a hub mirror's format); ``number`` counts rows from 1."""
    import pyarrow.parquet as pq

    check_file(path, "data file")
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow's errors for a truncated or foreign file
        raise MedbenchError(f"{path}: not a readable Parquet file ({type(exc).__name__}: {exc})") from None
    missing = [c for c in required if c not in table.column_names]
    if missing:
        raise MedbenchError(
            f"{path}: missing column(s) {', '.join(missing)}; expected columns {', '.join(required)}"
        )
    for number, record in enumerate(table.to_pylist(), start=1):
        yield Row(str(path), number, record)


def read_jsonl(path: Path) -> Iterator[Row]:
    """Rows of a JSON-lines file (``number`` is the line); a line that is not a JSON object comes with
    ``data == {}`` and a ``problem`` the caller reports or skips."""
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            yield Row(str(path), number, {}, f"not valid JSON ({getattr(exc, 'msg', 'nested too deeply')})")
            continue
        if isinstance(record, dict):
            yield Row(str(path), number, record)
        else:
            yield Row(str(path), number, {}, "expected a JSON object")


class Duplicates:
    """The second sighting of an item id, or of an identical item, is a duplicate: scored once."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.contents: dict[str, int] = {}

    def check(self, item_id: str | None, content: object, row: int) -> str | None:
        """Why the item at ``row`` is a duplicate, or None (and it is remembered)."""
        key = json.dumps(content, ensure_ascii=False, sort_keys=True, default=str)
        if item_id is not None and item_id in self.ids:
            return f"duplicate id {item_id!r} (first at row {self.ids[item_id]})"
        if key in self.contents:
            return f"duplicate of row {self.contents[key]}"
        if item_id is not None:
            self.ids[item_id] = row
        self.contents[key] = row
        return None
