"""The unit of analysis: what one independent observation is, declared once in every per-item record.

A run's per-sample record names its ``unit``: the question it asks. A plain item is its own unit; a
``--circular`` rotation (``id#rK``) belongs to the question it rotates (``circular_of``). Every
interval, test, clean score, histogram and table counts units, never rotations, so a circular run of
5 questions rests on n = 5, not on its 20 rotated items.
"""

from __future__ import annotations

from collections.abc import Iterable


def unit_of(record: dict) -> str:
    """A per-sample record's unit: its declared ``unit``; in folders written before it was declared,
    the question a rotation rotates, else the item's id."""
    for key in ("unit", "circular_of", "id", "doc_id"):
        value = record.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)
    return ""


def doc_unit(doc: dict, doc_id: int) -> str:
    """The unit of a task document as lm-eval logs it (a rotated copy names what it rotates)."""
    return str(doc.get("circular_of", doc.get("id", doc_id)))


def expected(record: dict) -> int:
    """How many records make a whole unit: a question's rotations, else one."""
    rotations = record.get("rotations")
    whole = isinstance(rotations, int) and not isinstance(rotations, bool)
    return rotations if whole and rotations > 0 else 1


def by_unit(records: Iterable[dict]) -> dict[str, list[dict]]:
    """Records grouped by unit, in first-seen order."""
    out: dict[str, list[dict]] = {}
    for record in records:
        out.setdefault(unit_of(record), []).append(record)
    return out


def complete(group: list[dict]) -> bool:
    """Every record of the unit is there and none failed (a question with a failed rotation is not
    scored by any measure, so plain and circular accuracy rest on the same questions)."""
    return len(group) == expected(group[0]) and not any("error" in r for r in group)
