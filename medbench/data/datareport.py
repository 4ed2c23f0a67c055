"""What a task's data rests on -- the files read (sha256), the rows left out and why, the items excluded
from a scoring mode -- carried by the data itself, and each task's data read once per run.

Every benchmark hook (``custom_dataset``, made by ``mc.loader``, ``gen.loader`` or ``ner.loader``) is
wrapped by :func:`task_data`: the hook is handed a fresh :class:`DataReport` (``report=``) and passes it
to what it reads with -- it fingerprints each file it reads, its :class:`~medbench.data.intake.Intake`
records the rows it skips -- and the report comes back attached to the ``DatasetDict`` as ``.report``.
A run builds its tasks once (:mod:`medbench.run.tasks`): their data is read once, checked before the
model loads, and those reports give the run folder's ``data.json`` and every score's exclusions.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

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


def task_data(hook: Callable[..., object]) -> Callable[..., object]:
    """A ``custom_dataset`` hook given the :class:`DataReport` its readers record into (``report=``),
    returned on its data (``.report``)."""

    @functools.wraps(hook)
    def wrapped(**kwargs):
        report = DataReport()
        data = hook(report=report, **kwargs)
        data.report = report
        return data

    return wrapped
