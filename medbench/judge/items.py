"""The items two runs both answered, read from their run folders' per-sample outputs (through each
folder's record, :mod:`medbench.config.record`: a line that is not a sample record is one line)."""

from __future__ import annotations

from pathlib import Path

from medbench.config.record import RunRecord
from medbench.core.errors import MedbenchError


def answer_text(record: dict) -> str:
    """What a judge reads of a reply: the answer after any thinking (a reply whose thinking was cut
    off has none), else the whole reply."""
    return record["answer"] if "answer" in record else (record.get("raw") or "")


def _samples(run: str, task: str | None) -> tuple[str, dict[str, dict]]:
    record = RunRecord.open(run)
    if not record.has("config.json") or not record.sample_dir().is_dir():
        raise MedbenchError(f"{run} is not a run folder with per-sample outputs (no config.json or samples/)")
    tasks = [t for t in record.tasks() if not task or t == task]
    judged = [t for t in tasks if all("question" in r for r in record.samples(t)[:1])]
    if len(judged) != 1:
        names = ", ".join(tasks) or "none"
        raise MedbenchError(f"{run}: pass --task with one generation task of the run (its tasks: {names})")
    file = record.sample_file(judged[0])
    return judged[0], {str(r["id"]): _judgeable(r, file) for r in record.samples(judged[0])}


def _judgeable(record: dict, file: Path) -> dict:
    """A record a judge can read: its question, history, reference and answer of the right types."""
    history = record.get("history") or []
    turns_ok = isinstance(history, list) and all(
        isinstance(t, list) and len(t) == 2 and all(isinstance(x, str) for x in t) for t in history
    )
    texts_ok = all(isinstance(record.get(k, ""), (str, type(None))) for k in ("raw", "answer", "reference"))
    if not isinstance(record.get("question"), str) or not turns_ok or not texts_ok:
        raise MedbenchError(
            f"{file}: item {str(record['id'])[:40]}: question, history, reference or reply of the wrong type"
        )
    return record


def paired_items(run_a: str, run_b: str, task: str | None) -> tuple[str, list[tuple[dict, dict]], list[str]]:
    """The items both runs answered, matched by id (any mismatch is one clear error), and the ids of
    the items left out because their request failed in either run."""
    task_a, a = _samples(run_a, task)
    task_b, b = _samples(run_b, task or task_a)
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    if only_a or only_b:
        raise MedbenchError(
            f"item ids differ between the runs ({task_a}): {len(only_a)} only in {run_a} "
            f"(e.g. {only_a[:3]}), {len(only_b)} only in {run_b} (e.g. {only_b[:3]})"
        )
    failed = [k for k in a if "error" in a[k] or "error" in b[k]]
    return task_a, [(a[k], b[k]) for k in a if k not in failed], failed
