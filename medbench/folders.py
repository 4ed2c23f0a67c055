"""Reading the folders other commands wrote (runs, judge, bias and arena folders) for reports.

Each folder's ``config.json`` carries ``schema_version`` (:mod:`medbench.schemas`); a folder from a
newer, incompatible medbench, or a score or status of the wrong shape, is one line naming the file,
never a misread number. Schema 1 (no version key) had the openai options at the top level.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from medbench import schemas
from medbench.errors import MedbenchError
from medbench.schemas import ITEM_SETTINGS, answer_identity
from medbench.summary import Score

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

    @property
    def full_name(self) -> str:
        served = (self.config.get("backend_options") or {}).get("model_name") or self.config.get("model_name")
        return str(served or self.config.get("model") or self.path.name).rstrip("/")

    @property
    def settings(self) -> tuple:
        """What tells runs of one model apart: everything that changes its answers (the same record
        that names its request cache), then which items were scored."""
        if self.kind != "run":
            return ()
        answers = answer_identity(self.config)
        return (*answers.items(), *((k, self.config.get(k)) for k in ITEM_SETTINGS))


class Incomplete(Exception):
    """A run folder that cannot be reported (killed before its metrics were written)."""


def _config(path: Path) -> dict | None:
    """A medbench folder's config (runs have ``tasks``, judge/bias/arena folders a ``kind``), else None."""
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return config if isinstance(config, dict) and ("tasks" in config or "kind" in config) else None


def _json(path: Path, default=None):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def _read(path: Path) -> Folder:
    config = _config(path)
    if config is None:
        raise MedbenchError(f"{path} is not a medbench run, judge or bias folder")
    schemas.check_version(config, path / "config.json")
    kind = config.get("kind", "run")
    result = path / ("metrics.json" if kind == "run" else "summary.json")
    data = _json(result)
    if data is None:
        raise Incomplete(f"no readable {result.name} (killed before it finished?)")
    if kind == "run":  # each score a Score record (one line naming the file otherwise)
        if not isinstance(data, list):
            raise MedbenchError(f"{result}: expected a list of scores")
        data = [asdict(schemas.build(Score, s, result)) for s in data]
    status = path / "status.json"
    status = schemas.read(schemas.RunStatus, status).record() if status.is_file() else {}
    model = _json(path / "model.json", {}) or {}
    # an API model is its name: the server's address (a port that changes per session) is not the model
    fingerprint = json.dumps({k: v for k, v in model.items() if k != "api"}, sort_keys=True)
    folder = Folder(path, kind, "", config, data, status=status)
    folder.identity = f"{folder.full_name}|{hashlib.sha256(fingerprint.encode()).hexdigest()[:12]}"
    return folder


def collect(paths: list[str]) -> tuple[list[Folder], list[tuple[Path, str]]]:
    """Folders given directly, or every folder with a config.json below a given directory; and the
    folders left out (path, why), each also logged."""
    folders, incomplete = [], []
    for p in paths:
        path = Path(p)
        if not path.exists():
            raise MedbenchError(f"{path} does not exist")
        if (path / "config.json").is_file():
            found = [path]
        else:
            found = sorted(c.parent for c in path.rglob("config.json") if _config(c.parent) is not None)
            if not found:
                raise MedbenchError(f"{path} holds no run, judge or bias folders")
        for f in found:
            try:
                folders.append(_read(f))
            except Incomplete as exc:
                incomplete.append((f, str(exc)))
                log.warning("report: skipping %s: %s", f, exc)
    name_rows(folders)
    return folders, incomplete


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
        labels[identity] = _suffix(name, depth) + (f" @{identity.split('|')[1][:8]}" if clash else "")
    for f in folders:
        variants = {g.settings for g in folders if g.identity == f.identity and g.kind == f.kind}
        differing = [k for k, v in f.settings if len({dict(s).get(k) for s in variants}) > 1]
        shown = ", ".join(f"{k}={_setting(k, v)}" for k, v in f.settings if k in differing)
        f.name = labels[f.identity]
        f.model = f.name + (f" ({shown})" if shown else "")
