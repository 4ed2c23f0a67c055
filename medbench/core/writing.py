"""Writing result files whole or not at all, and a failed write as one line.

A result file cut short by a full disk or a kill would read as another, wrong result (a truncated
``metrics.json`` beside a ``status.json`` saying complete). Each file is written to a temporary file
beside it and renamed over it (``os.replace``, atomic on POSIX), so a reader finds the old file, none,
or the whole new one. A write that fails (no space, no permission, a file where a folder belongs) is
one line naming the file and the reason, never a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from medbench.core.errors import MedbenchError


def failed_write(path: Path, exc: OSError) -> MedbenchError:
    """The one line for a write that failed: which file, and what the system said."""
    return MedbenchError(f"cannot write {path}: {exc.strerror or exc}")


@contextmanager
def replacing(path: Path) -> Iterator[TextIO]:
    """A text file to write ``path`` through: it replaces ``path`` only once every byte is written;
    until then (and after a failure) ``path`` is as it was and no temporary file is left."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as fh:
            yield fh
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise failed_write(path, exc) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """``path`` holds ``text``, whole (:func:`replacing`)."""
    with replacing(path) as fh:
        fh.write(text)


def make_folder(path: Path, what: str) -> None:
    """``path`` made as a folder (with its parents), or one line: a file already there, no room, no
    permission."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise MedbenchError(f"{path} is a file, not a folder for {what}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MedbenchError(f"cannot make the folder {path} for {what}: {exc.strerror or exc}") from None
