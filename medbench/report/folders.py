"""Reading the folders other commands wrote (runs, judge, bias and arena folders) for reports.

Each folder's ``config.json`` carries ``schema_version`` (:mod:`medbench.config.schemas`); a folder from
a newer, incompatible medbench, or a score or status of the wrong shape, is one line naming the file,
never a misread number: each file is read through the folder's record (:mod:`medbench.config.record`).
Schema 1 (no version key) had the openai options at the top level.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from medbench.analysis.summary import Score
from medbench.config import schemas
from medbench.config.bias import BiasConfig
from medbench.config.fields import affecting
from medbench.config.record import RunRecord
from medbench.config.run import RunConfig
from medbench.config.schemas import ITEM_SETTINGS
from medbench.core.errors import MedbenchError
from medbench.run.identity import answer_identity

log = logging.getLogger("medbench")


@dataclass
class Folder:
    path: Path
    kind: str  # run | judge | bias | arena
    model: str  # the row label (unique among the folders of one report)
    config: dict
    data: dict | list = field(default_factory=dict)
    identity: str = ""  # full model name + fingerprint
    name: str = ""  # the row label without the settings that tell runs of one model apart
    status: dict = field(default_factory=dict)
    contamination: dict | None = None  # a run's clean.json (schemas.CleanRecord): what an audit flagged
    #: the settings in which this model's folders of this kind differ (those its label shows)
    differing: tuple[str, ...] = ()

    @property
    def full_name(self) -> str:
        served = (self.config.get("backend_options") or {}).get("model_name") or self.config.get("model_name")
        return str(served or self.config.get("model") or self.path.name).rstrip("/")

    @property
    def settings(self) -> tuple:
        """What tells runs of one model apart: everything that changes its answers (the same record
        that names its request cache), then which items were scored."""
        if self.kind == "bias":  # a scale's answers change with these (BiasConfig declares them)
            return tuple(
                (k, self.config.get(k))
                for k in (*affecting(BiasConfig, "answer"), *affecting(BiasConfig, "items"))
            )
        if self.kind != "run":
            return ()
        answers = answer_identity(self.config)
        return (*answers.items(), *((k, self.config.get(k)) for k in ITEM_SETTINGS))

    @property
    def plain(self) -> bool:
        """Whether each setting this folder's label shows is at its default (the model's plain row)."""
        defaults = {f.name: f.default for f in fields(RunConfig)}
        return all(v is None or v == defaults.get(k) for k, v in self.settings if k in self.differing)


class Incomplete(Exception):
    """A run folder that cannot be reported (killed before its metrics were written)."""


def _config(path: Path) -> dict | None:
    """A medbench folder's config (runs have ``tasks``, judge/bias/arena folders a ``kind``), else None."""
    try:
        config = RunRecord.open(path).json("config.json", "its settings")
    except MedbenchError:
        return None
    return config if isinstance(config, dict) and ("tasks" in config or "kind" in config) else None


def _read(path: Path) -> Folder:
    """A folder as the report shows it, every file read through its record (:mod:`medbench.config.record`):
    a run's scores, status, model fingerprint and clean record; a judge, bias or arena folder's summary."""
    config = _config(path)
    if config is None:
        raise MedbenchError(f"{path} is not a medbench run, judge or bias folder")
    record = RunRecord.open(path)
    kind = config.get("kind", "run")
    if kind == "run":
        record.config()
    else:
        schemas.check_version(config, path / "config.json")
    result = "metrics.json" if kind == "run" else "summary.json"
    if not record.has(result):
        raise Incomplete(f"no readable {result} (killed before it finished?)")
    # a run's scores: each a Score record with a plain task name (one line naming the file if not)
    data = [asdict(s) for s in record.scores(Score)] if kind == "run" else record.json(result, "its summary")
    if kind == "judge":  # the fields the report shows, each of its declared type
        from medbench.judge.summary_schema import checked

        data = checked(data, path / result)
    status = record.status().record() if record.has("status.json") else {}
    model = record.model() if record.has("model.json") else {}
    # an API model is its name: the server's address (a port that changes per session) is not the model
    fingerprint = json.dumps({k: v for k, v in model.items() if k != "api"}, sort_keys=True)
    folder = Folder(path, kind, "", config, data, status=status)
    if kind == "run" and record.has("clean.json"):
        folder.contamination = asdict(record.clean())
    folder.identity = f"{folder.full_name}|{hashlib.sha256(fingerprint.encode()).hexdigest()[:12]}"
    return folder


def _below(path: Path) -> list[Path]:
    """Every medbench folder below ``path``, symlinked ones included (each real folder once)."""
    found, seen = [], set()
    for root, dirs, files in os.walk(path, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:  # a link back up the tree, or a second link to one folder
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        if "config.json" in files and _config(Path(root)) is not None:
            found.append(Path(root))
    return sorted(found)


def collect(paths: list[str]) -> tuple[list[Folder], list[tuple[Path, str]]]:
    """Folders given directly, or every folder with a config.json below a given directory; and the
    folders left out (path, why), each also logged: a killed run, or a folder found below a directory
    with a malformed or hostile file, is skipped and listed, never the end of the whole report (a
    folder named directly that cannot be read is its one-line error)."""
    folders, left_out = [], []
    for p in paths:
        path = Path(p)
        if not path.exists():
            raise MedbenchError(f"{path} does not exist")
        named = (path / "config.json").is_file()
        found = [path] if named else _below(path)
        if not found:
            raise MedbenchError(f"{path} holds no run, judge or bias folders")
        for f in found:
            try:
                folders.append(_read(f))
            except MedbenchError as exc:
                if named:  # the folder asked for by name: its one line is the answer
                    raise
                left_out.append((f, f"unreadable: {exc}"))
                log.warning("report: skipping %s: %s", f, exc)
            except Incomplete as exc:
                left_out.append((f, f"incomplete: {exc}"))
                log.warning("report: skipping %s: %s", f, exc)
    name_rows(folders)
    return folders, left_out


def _parts(name: str) -> tuple[str, ...]:
    path = Path(name)
    return path.parts[1:] if path.is_absolute() else path.parts


def _suffix(name: str, parts: int) -> str:
    return "/".join(_parts(name)[-parts:]) or name


def _setting(key: str, value) -> str:
    """A setting as a row label shows it: an unset limit is every item, any other unset one the
    default."""
    if value is None:
        return "all" if key == "limit" else "default"
    return str(value)


def name_rows(folders: list[Folder]) -> None:
    """Give each folder its row label: the shortest path suffix of its model's name that no other
    model shares (a fingerprint prefix where even full names collide), then the settings in which
    runs of that one model differ."""
    identities = {f.identity: f.full_name for f in folders}
    labels = {}
    for identity, name in identities.items():
        parts, depth = len(_parts(name)), 1
        clash = [
            i for i, n in identities.items() if i != identity and _suffix(n, depth) == _suffix(name, depth)
        ]
        while clash and depth < parts:
            depth += 1
            clash = [i for i in clash if _suffix(identities[i], depth) == _suffix(name, depth)]
        labels[identity] = _suffix(name, depth) + (f" @{identity.rsplit('|', 1)[1][:8]}" if clash else "")
    for f in folders:
        variants = {g.settings for g in folders if g.identity == f.identity and g.kind == f.kind}
        differing = [k for k, v in f.settings if len({dict(s).get(k) for s in variants}) > 1]
        shown = ", ".join(f"{k}={_setting(k, v)}" for k, v in f.settings if k in differing)
        f.name = labels[f.identity]
        f.model = f.name + (f" ({shown})" if shown else "")
        f.differing = tuple(differing)


def judge_names(folders: list[Folder]) -> dict[str, tuple[str, str]]:
    """judge folder -> the two runs it compared, as the leaderboard names them (the model, and the
    settings that tell its rows apart); two runs of one name also say when each was made. A run not in
    the report keeps its folder's name."""
    labels = {f.path.name: f.model for f in folders if f.kind == "run"}
    out = {}
    for judge in (f for f in folders if f.kind == "judge" and "dimensions" in f.data):
        runs = (str(judge.data.get("model_a", "")), str(judge.data.get("model_b", "")))
        names = [labels.get(r, r) for r in runs]
        if names[0] == names[1]:
            names = [f"{n} ({r[:15]})" if r in labels else n for n, r in zip(names, runs, strict=True)]
        out[judge.path.name] = (names[0], names[1])
    return out
