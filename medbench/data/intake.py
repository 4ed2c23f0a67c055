"""What every benchmark loader shares (multiple choice, generation, NER): finding the data, and taking
one split's rows in through one contract.

A loader reads its files, parses each row into an item, and hands every row to an :class:`Intake`:
a row with a problem is *malformed*, a row that repeats an earlier one (its id, or its whole content)
is a *duplicate*; both are counted with file, row and reason (``data.json``, the run's warnings) and
never scored. The rest are rendered and kept. :func:`no_local_data` is the one message for a task
whose data is not at hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medbench.core.errors import MedbenchError
from medbench.data.datareport import DataReport, Skipped
from medbench.data.datasources import Duplicates


def no_local_data(task: str, files: list[str], mirrored: bool = False) -> MedbenchError:
    """The one line for a task with no data folder (and no pinned mirror to fall back on)."""
    hint = "; this benchmark has no pinned public mirror" if mirrored else ""
    return MedbenchError(
        f"{task}: no local data. Put {', '.join(files)} under a folder and pass --data-dir DIR "
        f"(or set MEDBENCH_DATA){hint}"
    )


@dataclass
class Intake:
    """One split of one task: each row becomes a kept item or a :class:`Skipped`, never both and never
    silently. ``position`` of a skipped row is the number of items kept before it (so a row beyond
    ``--limit`` is not counted against a limited run)."""

    task: str
    split: str
    data_report: DataReport  # the hook's (medbench.data.datareport.task_data)
    kept: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    seen: Duplicates = field(default_factory=Duplicates)

    def malformed(self, file: str | Path, row: int, reason: str) -> None:
        self.skipped.append(Skipped(self.task, str(file), row, reason, "malformed", self.split, self.kept))

    def admit(
        self, file: str | Path, row: int, problem: str | None, item_id: str | None, content: Any
    ) -> bool:
        """Whether a parsed row may be kept: no ``problem`` and no earlier row with its id or its
        ``content``; otherwise it is recorded as malformed or duplicate."""
        if problem:
            self.malformed(file, row, problem)
            return False
        duplicate = self.seen.check(item_id, content, row)
        if duplicate:
            self.skipped.append(
                Skipped(self.task, str(file), row, duplicate, "duplicate", self.split, self.kept)
            )
            return False
        return True

    def keep(self) -> None:
        """One more item kept (after :meth:`admit`)."""
        self.kept += 1

    def report(self) -> None:
        """The skipped rows into the run's data report."""
        self.data_report.skip(self.task, self.skipped)
