"""``ReportConfig``: the settings of ``medbench report``, declared once (flags and checks from the
fields)."""

from __future__ import annotations

from dataclasses import dataclass
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
    out: str = setting("reports/site", "where the report goes (default reports/site)")
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
    def formats(self) -> list[str]:
        return FORMATS[self.format]
