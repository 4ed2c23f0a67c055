"""``--exclude-contaminated AUDIT``: each task scored again without the items a contamination audit
(``medbench contamination``) flags, beside the full score.

The audit folder is someone else's file as much as the user's own: ``contamination.jsonl`` is read
like user input (each line an object with a task, an id and a flag; one line naming file and row if
not). A task the audit did not cover gets no clean score -- it is named in the results, never given
the full score under a clean label. The clean score is accuracy over the right-or-wrong questions that
were scored and not flagged (metric ``clean_acc``, beside ``acc`` on the leaderboard), with its
interval and n in questions (:mod:`medbench.core.units`: a ``--circular`` run's rotations of a flagged
question are left out with it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from medbench.analysis import intervals
from medbench.analysis.summary import Score
from medbench.config.record import RunRecord
from medbench.core import units
from medbench.core.errors import MedbenchError
from medbench.core.hashing import sha256_file

#: the clean score's metric: its own name, so no reader takes it for the full accuracy
METRIC = "clean_acc"

#: what a clean-only report says first
CLEAN_ONLY = (
    "Clean subsets only (--clean-only): each score leaves out the items a contamination audit flagged "
    "(clean_acc); a run without an audit has no score here, and the papers' rows are left out.\n\n"
)


@dataclass
class Audit:
    file: str
    sha256: str
    flagged: dict[str, set[str]]  # task -> flagged item ids
    audited: set[str]  # every task the audit covered
    data_sha256: dict[str, list[str]]  # task -> the sha256 of the data files the audit read


def _data_sha256(folder: str) -> dict[str, list[str]]:
    """The audit's summary: it checked training data (a probe alone flags nothing), and the sha256 of
    the evaluation data each task read."""
    path = Path(folder) / "summary.json"
    try:
        summary = RunRecord.open(folder).json("summary.json", "the audit's summary")
    except MedbenchError:
        raise MedbenchError(
            f"{path}: missing or not readable JSON (a medbench contamination folder)"
        ) from None
    if not isinstance(summary, dict) or "training" not in summary:
        raise MedbenchError(
            f"--exclude-contaminated {folder}: this audit checked no training data (a Min-K% probe flags no "
            "item); audit with --train or --model-card"
        )
    data = summary.get("data_sha256")
    ok = isinstance(data, dict) and all(
        isinstance(t, str) and isinstance(v, list) and all(isinstance(h, str) and len(h) == 64 for h in v)
        for t, v in data.items()
    )
    if not ok:
        raise MedbenchError(
            f"{path}: no data_sha256 (task -> sha256 list of the data it audited); audit again with this "
            "medbench"
        )
    return data


def read_audit(folder: str) -> Audit:
    """An audit folder's per-item flags and the data they are about, validated."""
    path = Path(folder) / "contamination.jsonl"
    if not path.is_file():
        raise MedbenchError(
            f"--exclude-contaminated {folder}: no contamination.jsonl (a medbench contamination folder)"
        )
    data_sha256 = _data_sha256(folder)
    flagged: dict[str, set[str]] = {}
    audited: set[str] = set()
    for number, row in RunRecord.open(folder).rows("contamination.jsonl"):
        ok = (
            isinstance(row, dict)
            and isinstance(row.get("task"), str)
            and isinstance(row.get("flagged"), bool)
        )
        if not ok or not isinstance(row.get("id"), str) or len(row["task"]) > 200 or len(row["id"]) > 200:
            raise MedbenchError(
                f"{path}:{number}: expected an object with task, id (text) and flagged (true/false)"
            )
        audited.add(row["task"])
        if row["flagged"]:
            flagged.setdefault(row["task"], set()).add(row["id"])
    return Audit(str(path), sha256_file(path), flagged, audited, data_sha256)


def check_same_data(audit: Audit, files: dict[str, dict[str, str]]) -> None:
    """Refuse, in one line, an audit made on other evaluation data than this run reads (``files``: per
    task, path -> sha256): its item ids would name other items."""
    for task, read in files.items():
        name = _audited_as(task, audit)
        if name is None:
            continue
        audited = set(audit.data_sha256.get(name, []))
        if audited != set(read.values()):
            raise MedbenchError(
                f"--exclude-contaminated: the audit read other data for {name} than this run reads (sha256 "
                f"{', '.join(sorted(h[:12] for h in audited)) or 'none'} vs "
                f"{', '.join(sorted(h[:12] for h in read.values())) or 'none'}); audit this data again"
            )


def _audited_as(task: str, audit: Audit) -> str | None:
    """The audit's name for a run's task (``medqa_mcmle_gen`` was audited as ``medqa_mcmle``)."""
    for name in (task, task.removesuffix("_gen").removesuffix("_loglik")):
        if name in audit.audited:
            return name
    return None


def clean_scores(records: dict[str, list[dict]], audit: Audit) -> tuple[list[Score], list[str], dict]:
    """Per task: the clean accuracy; the tasks the audit did not cover; what each score left out."""
    scores, uncovered, record = [], [], {}
    for task, items in records.items():
        if not any("correct" in r for r in items):
            continue  # not right-or-wrong (open generation)
        name = _audited_as(task, audit)
        if name is None:
            uncovered.append(task)
            continue
        # the audit names questions: a --circular run's rotations (q1#r2) are dropped with their question
        grouped = units.by_unit(items)
        scored = {
            unit: [float(bool(r.get("correct"))) for r in group]
            for unit, group in grouped.items()
            if units.complete(group) and all("correct" in r for r in group)
        }
        dropped = audit.flagged.get(name, set())
        clean = [sum(values) / len(values) for unit, values in scored.items() if unit not in dropped]
        failed = sum(1 for unit in grouped if unit not in scored and unit not in dropped)
        score = Score(task, METRIC, sum(clean) / len(clean) if clean else None, len(clean), n_failed=failed)
        interval, score.ci_method = intervals.unit_interval(clean)
        if interval:
            score.ci_low, score.ci_high = interval
        scores.append(score)
        record[task] = {
            "scored": len(scored),
            "flagged_left_out": len(scored) - len(clean),
            "clean": len(clean),
        }
    return scores, uncovered, record


def markdown(record: dict, uncovered: list[str], audit: Audit, source: str) -> str:
    if not record and not uncovered:
        return ""
    where = "the model card's training files" if source == "model card" else audit.file
    lines = ["", f"Clean subsets (contamination audit of {where}, sha256 {audit.sha256[:12]}):", ""]
    lines += [
        f"- {t}: {r['flagged_left_out']} flagged item(s) left out, {r['clean']} scored"
        for t, r in record.items()
    ]
    lines += [f"- {t}: not in the audit, no clean score" for t in uncovered]
    return "\n".join(lines) + "\n"


def only_clean(folders: list) -> list:
    """The folders as a clean-only report shows them: each run's clean scores and nothing else."""
    for folder in folders:
        if folder.kind == "run":
            folder.data = [s for s in folder.data if s["metric"] == METRIC]
    return folders
