"""One check for every name that comes from a file and becomes part of a path.

A task name in a received ``metrics.json``, a recipe in a model card, a member of a hub archive: each
is someone else's text. Before it names a file medbench writes or reads, it must be a plain file name
(letters, digits, ``.``, ``_``, ``-``; no separator, no ``..``; at most :data:`LONGEST` characters),
or the name is refused in one line -- never a path outside the folders the user gave.
"""

from __future__ import annotations

import re
from pathlib import Path

from medbench.core.errors import MedbenchError

LONGEST = 100
_PLAIN = re.compile(rf"[A-Za-z0-9_][A-Za-z0-9_.-]{{0,{LONGEST - 1}}}")


def plain_name(name: object, what: str, where: Path | str) -> str:
    """``name`` itself if it is a plain file name; else one line naming the file it came from."""
    if isinstance(name, str) and _PLAIN.fullmatch(name) and ".." not in name:
        return name
    shown = repr(name)[:60] + ("…" if len(repr(name)) > 60 else "")
    raise MedbenchError(
        f"{where}: {what} {shown} is not a plain name (letters, digits, . _ -, at most {LONGEST} "
        "characters): refused, since it would name a file"
    )


def inside(root: Path, relative: str, what: str, where: Path | str) -> Path:
    """``root / relative``, refused in one line when it resolves outside ``root``."""
    base = root.resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base) or path == base:
        raise MedbenchError(f"{where}: {what} {relative[:120]!r} points outside {root}: refused")
    return path
