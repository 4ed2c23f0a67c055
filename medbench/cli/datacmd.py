"""``medbench data pull``, ``verify`` and ``list``: the public benchmark files a run or a suite needs,
fetched ahead (for clusters whose nodes have no internet) from their pinned hub mirrors
(:mod:`medbench.data.hubdata`) or their pinned git-host commits (:mod:`medbench.data.sources`), and checked
against the hashes those pins name. Licensed data stays the user's to place, with one line saying so.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from medbench.core.errors import MedbenchError
from medbench.data import hubdata, sources
from medbench.data.catalog import leaf_tasks, task_config
from medbench.data.hubdata import Mirror, local_file, verify, verify_extracted

#: a benchmark with no pinned source: public ones not pinned yet, and the licensed ones
BY_HAND = (
    "no pinned source: place the file yourself (licensed data such as ChiMed QA and ChiMST: from its authors)"
)


@dataclass(frozen=True)
class Need:
    """One split of one task's data: its mirror (None: none is pinned) and the official local files."""

    task: str
    mirror: Mirror | None
    split: str
    subject: str | None
    local: str  # where the file goes under --data-dir
    benchmark: str = ""


def _task_names(tasks: list[str], suite: str | None, every: bool = False) -> list[str]:
    from medbench.cli.suite import load_suite
    from medbench.run.planning import resolve_tasks, task_manager

    if every:
        manager = task_manager()
        return [t for t in manager.all_tasks if t not in manager.all_groups and not t.startswith("_")]
    names = list(tasks)
    if suite:
        names += [t for part in load_suite(suite)["parts"] for t in part["tasks"]]
    if not names:
        raise MedbenchError("name the data: --tasks T1,T2 or --suite NAME")
    return resolve_tasks(names, task_manager().all_tasks, None)


def needs(tasks: list[str], suite: str | None = None, every: bool = False) -> list[Need]:
    """Every split of every leaf task that ``tasks`` (and the suite's parts; ``every``: all tasks)
    stand for."""
    from medbench.run.planning import task_manager

    manager = task_manager()
    out: dict[tuple, Need] = {}
    for name in _task_names(tasks, suite, every):
        for leaf in leaf_tasks(manager, name):
            cfg = task_config(manager, leaf, resolve=True)
            meta = cfg.get("metadata") or {}
            kwargs = cfg.get("dataset_kwargs") or {}
            subject = kwargs.get("subject")
            benchmark = str(kwargs.get("benchmark") or meta.get("benchmark") or leaf)
            mirror = Mirror.from_metadata(leaf, meta.get("mirror"))
            layout = getattr(cfg.get("custom_dataset"), "layout", None)
            if layout:  # multiple choice: one file per split (and subject)
                files = [
                    (split, layout.path.format(split=split, subject=subject)) for split in meta["splits"]
                ]
            else:  # generation and NER: the hook's file, or the files the YAML names
                named = [
                    *kwargs.get("eval_files", []),
                    *([kwargs["shot_file"]] if "shot_file" in kwargs else []),
                ]
                hook_file = getattr(cfg.get("custom_dataset"), "source", None)
                paths = [hook_file] if hook_file else [f"{benchmark}/{f}" for f in dict.fromkeys(named)]
                files = [("test", path) for path in paths or [f"{benchmark}/..."]]
            for split, path in files:
                key = (mirror, split, subject) if mirror else (leaf, path)
                out.setdefault(key, Need(leaf, mirror, split, subject, path, benchmark))
    return list(out.values())


def _pull_sources(benchmarks: list[str], root: Path) -> list[str]:
    """Download (or keep, when already there and matching) every pinned file of these benchmarks
    (a benchmark whole: CMExam's train and annotated test come with its val)."""
    lines = []
    for source in (s for s in sources.declared() if s.benchmark in benchmarks):
        path = sources.download(source, root)
        kind = "official" if source.official else "third-party copy"
        lines.append(f"{source.pin} ({kind}) -> {path}")
    return lines


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


def _folder(to: str) -> Path:
    """``--to``: the folder (made when missing); a file of that name is one line, before any download."""
    path = Path(to).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise MedbenchError(f"medbench data pull --to {path}: a file is there, not a folder; name a folder")
    return path


def pull(
    tasks: list[str], suite: str | None = None, to: str | None = None, every: bool = False, hub: bool = False
) -> list[str]:
    """Fetch every pinned file (git host) and every mirrored one that has no git pin, or every mirrored
    one first (``hub``); the lines to print (what was fetched, what must be placed by hand)."""
    lines, by_hand, fetched = [], [], set()
    wanted = needs(tasks, suite, every)
    root = _folder(to) / "medbench-data" if to else sources.pulled_root()
    found = sources.declared()
    from_git = [n for n in wanted if sources.serving(n.local, found) and not (hub and n.mirror)]
    pulled = _pull_sources(sorted({n.benchmark for n in from_git}), root)
    for need in from_git:  # verified again, an archive's members laid out at their official paths
        sources.resolve(need.task, [need.local], root=root)
    lines += pulled
    with _cache_at(to):
        for need in wanted:
            if need in from_git:
                continue
            if need.mirror is None:
                by_hand.append(f"{need.task}: {BY_HAND}; put {need.local} under --data-dir")
                continue
            path = local_file(need.mirror, need.split, need.subject, need.task)
            for name in need.mirror.hub_files(need.split, need.subject):
                if (need.mirror, name) not in fetched:
                    fetched.add((need.mirror, name))
                    lines.append(f"{need.mirror.repo}@{need.mirror.revision[:12]}:{name}")
            lines.append(f"  {need.task} {need.split}: {path}")
        where = f" into {os.environ.get('HF_HUB_CACHE')}" if to else ""
        lines.append(
            f"medbench data pull: {len(fetched)} file(s) from pinned hub mirrors{where}, "
            f"{len(pulled)} pinned file(s) from git hosts into {root}"
        )
    if to:
        lines.append(f"on the offline machine: export HF_HUB_CACHE={Path(to).expanduser().resolve()}")
        if from_git:
            lines.append(f"and copy {root} to {sources.pulled_root()} there (or pass --data-dir {root})")
    return lines + list(dict.fromkeys(by_hand))


def listing() -> list[list[str]]:
    """``data list``: per benchmark, where its files come from, the licence and whether they are here."""
    rows = []
    for source in sources.declared():
        here = "pulled" if (sources.pulled_root() / source.local).is_file() else "not pulled"
        kind = "official" if source.official else "third-party copy"
        pin = f"{source.blob or source.sha256}"[:12]
        rows.append([source.benchmark, source.local, f"{source.pin}", kind, pin, source.licence, here])
    mirrored, by_hand = {}, {}
    found = sources.declared()
    for need in needs([], every=True):
        if need.mirror is not None:
            mirrored.setdefault(need.benchmark, need.mirror)
        elif sources.serving(need.local, found) is None:
            by_hand.setdefault(need.local, need.benchmark)
    for benchmark, mirror in sorted(mirrored.items()):
        rows.append(
            [
                benchmark,
                "(every subject)",
                f"hub {mirror.repo}@{mirror.revision[:12]}",
                "hub mirror",
                "hub hashes",
                "the dataset card's",
                "in the hub cache" if hubdata.cached(mirror) else "not in the hub cache",
            ]
        )
    for local, benchmark in sorted(by_hand.items(), key=lambda kv: kv[1]):
        rows.append([benchmark, local, BY_HAND, "", "", "", "--data-dir"])
    return rows


def _read_from_git(wanted: list[Need], root: Path) -> set[str]:
    """The benchmarks a run reads from their git pins: those with no hub mirror, and those with one
    whose pinned files are (some of them) pulled."""
    found = sources.declared()
    pinned = {n.benchmark for n in wanted if sources.serving(n.local, found)}
    mirrored = {n.benchmark for n in wanted if n.mirror}
    here = {s.benchmark for s in found if (root / s.local).is_file()}
    return {b for b in pinned if b not in mirrored or b in here}


def check(tasks: list[str], suite: str | None = None, every: bool = False) -> tuple[list[str], int]:
    """(one line per cached file that does not match its pinned hash or is missing, files checked)."""
    problems, seen = [], set()
    wanted = needs(tasks, suite, every)
    root = sources.pulled_root()
    git, found, good = _read_from_git(wanted, root), sources.declared(), set()
    for source in (s for s in found if s.benchmark in git):
        # every pinned file of a benchmark a task needs (a benchmark is pulled whole)
        seen.add(source)
        try:
            if sources.verified(source, root) is None:
                problems.append(f"{source.local}: not pulled ({source.pin}); run medbench data pull")
            else:
                good.add(source)
        except MedbenchError as exc:
            problems.append(str(exc))
    for need in wanted:  # the members of a pulled archive a run read: altered since extraction?
        pin = sources.serving(need.local, found) if need.benchmark in git else None
        if pin and pin[1] is not None and pin[0] in good:
            seen.add(need.local)
            try:
                sources.member_file(pin[0], pin[1], root, extract=False)
            except MedbenchError as exc:
                problems.append(str(exc))
    bad = set()
    for need in wanted:
        if need.mirror is None or need.benchmark in git:
            continue
        for name in need.mirror.hub_files(need.split, need.subject):
            if (need.mirror, name) in seen:
                continue
            seen.add((need.mirror, name))
            problem = verify(need.mirror, name)
            if problem:
                problems.append(problem)
                bad.add((need.mirror, name))
        if need.mirror.archive and (need.mirror, need.mirror.archive) not in bad:
            seen.add((need.mirror, need.split, need.subject))  # its member, as a run reads it
            problem = verify_extracted(need.mirror, need.split, need.subject, need.task)
            if problem:
                problems.append(problem)
    return problems, len(seen)
