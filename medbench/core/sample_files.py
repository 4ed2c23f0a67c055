"""Reading a run's per-sample files (``samples/<task>.jsonl``, one JSON object per line), once, for
everything a run derives from them after scoring (CircularEval, slices, decision margins, the letter
check) and for ``compare``, which reads another run's files like any received input."""

from __future__ import annotations

import json
from pathlib import Path

from medbench.core.errors import MedbenchError


def lines(path: Path) -> list[tuple[int, object]]:
    """(line number, parsed value or None when the line is not JSON) for each non-blank line."""
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append((number, json.loads(line)))
        except ValueError:
            out.append((number, None))
    return out


def read(folder: Path) -> dict[str, list[dict]]:
    """Every per-sample file in ``folder``: task -> its records; a line that is not a JSON object is
    one line naming the file and line."""
    records: dict[str, list[dict]] = {}
    for path in sorted(folder.glob("*.jsonl")):
        records[path.stem] = []
        for number, value in lines(path):
            if not isinstance(value, dict):
                raise MedbenchError(f"{path}:{number}: not a per-sample record (expected a JSON object)")
            records[path.stem].append(value)
    return records
