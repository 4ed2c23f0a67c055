"""A run's clean scores (``clean_acc``), from the audit ``--exclude-contaminated`` names or from the
run's own automatic one.

The automatic contamination audit of a run: a model medbench trained names its training files (and
its base models') in its card, so ``medbench run`` checks them against the items it scores, with no
flag (``--no-card-audit`` skips it; ``--exclude-contaminated`` names another audit instead).

The run folder gets the audit as ``medbench contamination`` writes it (``contamination.jsonl`` per
item, ``contamination.json`` the summary), and each right-or-wrong task a ``clean_acc`` without the
flagged items (:mod:`medbench.audit.clean`). A card whose files are gone or changed since training cannot
be audited: the run says so (a warning, ``contamination.json``'s ``skipped``) and scores as usual.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

from medbench.analysis.summary import Score, mean_over_repeats
from medbench.audit import clean
from medbench.audit.clean import Audit
from medbench.audit.training_files import CARD, card_files
from medbench.config.schemas import CleanRecord
from medbench.core.errors import MedbenchError
from medbench.core.hashing import sha256_file

log = logging.getLogger("medbench")


def trained_files(model_path: str) -> list[Path]:
    """The training files a local model's card names (none: not a model medbench trained)."""
    if not (Path(model_path) / CARD).is_file():
        return []
    return card_files(model_path)


def audit_run(resolved, folder) -> Audit | None:
    """Audit the run's items against its model's training files; None when there is nothing to audit
    (not a trained model, an API model, ``--no-card-audit``) or the card's files cannot be checked."""
    from medbench.run.contamination import evaluation_items, overlap_record, overlap_rows, write_rows

    config = resolved.config
    if not config.card_audit or not resolved.backend.capabilities.local:
        return None
    try:
        files = trained_files(resolved.model_path)
    except MedbenchError as exc:
        log.warning("no contamination audit: %s", exc)
        folder.write_json("contamination.json", {"skipped": str(exc)})
        return None
    if not files:
        return None
    tasks = SimpleNamespace(
        tasks=config.resolved_tasks, data_dir=config.data_dir, include_path=config.include_path
    )
    docs, data_sha256 = evaluation_items(tasks)
    rows, trained = overlap_rows(docs, files)
    path = folder.path / "contamination.jsonl"
    write_rows(path, rows)
    summary = {"source": "model card", **overlap_record(rows, trained), "data_sha256": data_sha256}
    folder.write_json("contamination.json", summary)
    flagged: dict[str, set[str]] = {}
    for row in rows.values():
        if row["flagged"]:
            flagged.setdefault(row["task"], set()).add(row["id"])
    return Audit(str(path), sha256_file(path), flagged, set(summary["tasks"]), data_sha256)


def record_clean(resolved, folder, records: list[dict[str, list[dict]]]) -> tuple[list[Score], str]:
    """A run's clean scores (``records``: each repeat's), from the audit it names
    (``--exclude-contaminated``) or from its own automatic one (:func:`audit_run`); ``clean.json``
    says which and what each left out. With repeats, each clean score is the mean over them."""
    if resolved.config.exclude_contaminated:
        audit, source = clean.read_audit(resolved.config.exclude_contaminated), "--exclude-contaminated"
    else:
        audit, source = audit_run(resolved, folder), "model card"
    if audit is None:
        return [], ""
    per_repeat = [clean.clean_scores(r, audit) for r in records]
    _, uncovered, left_out = per_repeat[0]  # the same items every repeat
    found = mean_over_repeats([f for f, _, _ in per_repeat])
    kept = CleanRecord(audit.file, audit.sha256, source, left_out, uncovered)
    folder.write_json("clean.json", asdict(kept))
    return found, clean.markdown(left_out, uncovered, audit, source)
