"""``ReportConfig``: the settings of ``medbench report``, declared once (flags and checks from the
fields)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from medbench.config.fields import setting

#: what each --format writes (all: every one)
FORMATS = {
    "md": ["md"],
    "csv": ["csv"],
    "latex": ["latex"],
    "html": ["html"],
    "all": ["md", "csv", "latex", "html"],
}


@dataclass
class ReportConfig:
    folders: list[str] = setting(flag=False)  # the command's positional folders
    out: str | None = setting(
        None, "where the report goes (default: report/ beside the run folders given, e.g. runs/report)"
    )
    format: Literal["all", "md", "html", "csv", "latex"] = setting("all", "which files to write")
    no_published: bool = setting(False, "leave the papers' published rows out")
    clean_only: bool = setting(
        False,
        "only the clean-subset scores (clean_acc: the items no contamination audit flagged); runs "
        "without an audit get no score, and the papers' rows are left out",
    )
    convention: str | None = setting(
        None,
        "headline metric convention for every task (cmexam-official, jieba, mention-set, ...; README "
        "Conventions); the column names the metric shown",
    )

    @property
    def target(self) -> str:
        """``--out``, else ``report/`` in the first folder given (beside it when that is itself a
        medbench folder): a report never lands in the source tree or the working folder unasked."""
        if self.out:
            return self.out
        first = Path(self.folders[0]) if self.folders else Path("runs")
        return str((first.parent if (first / "config.json").is_file() else first) / "report")

    @property
    def formats(self) -> list[str]:
        return FORMATS[self.format]
