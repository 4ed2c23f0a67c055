"""Helpers the generation benchmarks' readers share (``tasks/<benchmark>/utils.py``): a JSON-list
file read row by row, text fields checked for their type, and malformed records reported with their
file and index instead of stopping the run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from medbench.core.errors import MedbenchError
from medbench.data.datasources import Row, read_text

Item = dict  # {"id", "history": [[role, text]], "question", "reference"}


def json_list(path: Path, what: str = "") -> list:
    """A data file that must be one JSON list; anything else is one line naming the file (``what``:
    which records it should hold)."""
    try:
        records = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise MedbenchError(f"{path}: not a JSON list ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise MedbenchError(f"{path}: not a JSON list (nested too deeply)") from None
    if not isinstance(records, list):
        raise MedbenchError(f"{path}: expected a JSON list of records" + (f" ({what})" if what else ""))
    return records


def read_json_list(path: Path) -> Iterator[Row]:
    records = json_list(path)
    for number, record in enumerate(records, start=1):
        if isinstance(record, dict):
            yield Row(str(path), number, record)
        else:
            yield Row(str(path), number, {}, f"expected a JSON object, got {type(record).__name__}")


class Malformed(ValueError):
    """A record whose fields have the wrong shape; reported with its file and index."""


def text_field(record: dict, key: str, one_element_list: bool = False) -> str:
    """A text field (absent or null reads as empty); any other type is malformed, never str()-ed."""
    value = record.get(key)
    if one_element_list and isinstance(value, list):  # Huatuo-26M: ["text"]
        if len(value) > 1:
            raise Malformed(f"{key}: expected one text, got a list of {len(value)}")
        value = value[0] if value else None
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Malformed(f"{key}: expected text, got {type(value).__name__}")
    return value.strip()


def checked(rows: Iterator[Row], build) -> Iterator[tuple[Row, Item]]:
    """Each row through ``build``; a malformed one comes back with its ``problem`` and no fields."""
    for row in rows:
        blank = {"id": str(row.number), "history": [], "question": "", "reference": ""}
        if row.problem:
            yield row, blank
            continue
        try:
            item = build(row)
        except Malformed as exc:
            yield Row(row.file, row.number, {}, str(exc)), blank
            continue
        if item is not None:
            yield row, item


def item_id(record: dict, row: Row) -> str:
    value = record.get("id")
    return str(row.number) if value is None or value == "" else str(value)
