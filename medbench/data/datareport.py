"""What a task's data rests on -- the files read (sha256), the rows left out and why, the items excluded
from a scoring mode -- carried by the data itself, and each task's data read once per run.

Every benchmark hook (``custom_dataset``, made by ``mc.loader``, ``gen.loader`` or ``ner.loader``) is
wrapped by :func:`task_data`: while it runs, the readers record into a fresh :class:`DataReport`, which
is attached to the returned ``DatasetDict`` as ``.report``. A run checks each task's data before the
model loads and keeps those reports (the run folder's ``data.json`` and every score's exclusions come
from them); inside :func:`read_once`, lm-eval's own calls of the same hook with the same arguments get
the data already read instead of reading the files again.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from pathlib import Path

from medbench.core._compat import HOOK_BOOKKEEPING
from medbench.core.hashing import sha256_file

log = logging.getLogger("medbench")

ENCODING = "utf-8 (a byte-order mark allowed; any other encoding is refused, never guessed)"


@dataclass
class Skipped:
    """One row left out of a task, and why (``kind``: malformed or duplicate)."""

    task: str
    file: str
    row: int
    reason: str
    kind: str = "malformed"
    split: str = ""
    #: items of its split read before this row: it lies among the evaluated items when fewer than
    #: ``--limit`` came before it (None: unknown, counted wherever it lies)
    position: int | None = None

    def __str__(self) -> str:
        return f"{self.file} row {self.row}: {self.reason}"


@dataclass
class DataReport:
    """One task's data: files read, rows skipped, items excluded (``{"task:split": n}``)."""

    files: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # hub mirror -> pinned revision
    excluded: dict[str, int] = field(default_factory=dict)
    first: dict[tuple[str, int], Skipped] = field(default_factory=dict)  # as first read (data.json)
    latest: dict[tuple[str, int], Skipped] = field(default_factory=dict)  # as last read (counts)

    @property
    def skipped(self) -> list[Skipped]:
        """Each skipped row once (a file read twice -- NER shots and test -- counts once)."""
        return list(self.first.values())

    def fingerprint(self, path: Path) -> None:
        """A file link is named as linked (a hub-cache snapshot path says repo, revision and file; its
        target is only a hash), any other path resolved."""
        path = Path(path)
        key = str(path.absolute() if path.is_symlink() else path.resolve())
        if key not in self.files:
            self.files[key] = sha256_file(path)

    def source(self, mirror: dict) -> None:
        """The data came from a hub mirror at this revision (see :mod:`medbench.data.hubdata`)."""
        self.sources[mirror["repo"]] = mirror["revision"]

    def skip(self, task: str, rows: list[Skipped]) -> None:
        """Record skipped rows, with one warning line naming the first few not seen before."""
        new = [row for row in rows if (row.file, row.row) not in self.first]
        for row in rows:
            self.first.setdefault((row.file, row.row), row)
            self.latest[(row.file, row.row)] = row
        if new:
            log.warning(
                "%s: skipped %d malformed or duplicate row(s): %s",
                task,
                len(new),
                "; ".join(map(str, new[:5])),
            )

    def exclude(self, key: str, count: int, why: str) -> None:
        self.excluded[key] = count
        log.warning("%s: %d %s", key.split(":")[0], count, why)

    def counts(self, split: str | None, evaluated: int | None = None) -> dict[str, int]:
        """Rows of the evaluated split left out, by kind: ``{"malformed": n, "duplicate": m}``; with
        ``evaluated`` (the first N items scored: ``--limit``), only the rows among those items -- a
        malformed row past the last one scored changes no score here."""
        out = {"malformed": 0, "duplicate": 0}
        for row in self.latest.values():
            among = evaluated is None or row.position is None or row.position < evaluated
            if (split is None or row.split in ("", split)) and among:
                out[row.kind] += 1
        return out


def data_json(reports: list[DataReport]) -> dict:
    """The run folder's ``data.json``: every task's report merged (a row two tasks read, once)."""
    files: dict[str, str] = {}
    sources: dict[str, str] = {}
    skipped: dict[tuple[str, int], Skipped] = {}
    excluded: dict[str, int] = {}
    for report in reports:
        files.update(report.files)
        sources.update(report.sources)
        for row in report.skipped:
            skipped.setdefault((row.file, row.row), row)
        excluded.update(report.excluded)
    return {
        "encoding": ENCODING,
        "files_sha256": files,
        "skipped_rows": [asdict(s) for s in skipped.values()],
        "excluded_items": excluded,
        **({"hub_sources": sources} if sources else {}),
    }


_CURRENT: ContextVar[DataReport | None] = ContextVar("medbench_data_report", default=None)
_READ: ContextVar[dict | None] = ContextVar("medbench_data_read", default=None)


def current() -> DataReport:
    """The report of the hook now running (a throwaway one outside any hook)."""
    return _CURRENT.get() or DataReport()


def fingerprint(path: Path) -> None:
    current().fingerprint(path)


@contextmanager
def read_once() -> Iterator[None]:
    """Within this block each hook's data, for the same arguments, is read once."""
    if _READ.get() is not None:  # already inside one (a suite's runs): keep what was read
        yield
        return
    token = _READ.set({})
    try:
        yield
    finally:
        _READ.reset(token)


def task_data(hook: Callable[..., object]) -> Callable[..., object]:
    """A ``custom_dataset`` hook whose result carries its :class:`DataReport` (``.report``)."""

    @functools.wraps(hook)
    def wrapped(**kwargs):
        read = _READ.get()
        what = {k: v for k, v in kwargs.items() if k not in HOOK_BOOKKEEPING}  # not about the data
        key = (id(wrapped), json.dumps(what, sort_keys=True, default=str))
        if read is not None and key in read:
            return read[key]
        token = _CURRENT.set(DataReport())
        try:
            data = hook(**kwargs)
            data.report = _CURRENT.get()
        finally:
            _CURRENT.reset(token)
        if read is not None:
            read[key] = data
        return data

    return wrapped
