"""Finding plug-ins, in the package and outside it.

Code plug-ins (backends, training stages) are the public modules of their package that name an object
(``BACKEND``, ``STAGE``), plus any object an installed distribution declares under the entry-point group
``medbench.backends`` / ``medbench.stages`` (as Inspect finds its extensions): :func:`discover`.

Data plug-ins (judge rubrics, suites, bias scales) are YAML files in their folder (``judges/``, ...),
plus the YAML files beside any module declared under ``medbench.judges`` / ``medbench.suites`` /
``medbench.bias``; each is checked against its declared shape (:mod:`medbench.config.plugin_files`).
A name defined twice, or an entry point that does not load, is one line -- never a silent pick.
"""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from medbench.config.plugin_files import checked
from medbench.core.errors import MedbenchError
from medbench.core.paths import plugin_dir


def _load(entry) -> Any:
    try:
        return entry.load()
    except Exception as exc:  # a third-party plug-in: whatever it raises is reported, in one line
        raise MedbenchError(
            f"plug-in {entry.name} ({entry.group} = {entry.value}) does not load: {type(exc).__name__}: {exc}"
        ) from None


def discover(package: str, attribute: str) -> list[Any]:
    """The ``attribute`` of every public module of ``package`` (in name order), then the objects that
    installed distributions declare under the entry-point group ``package``'s kind (``medbench.<kind>``:
    ``medbench.backends``, ``medbench.stages``)."""
    module = importlib.import_module(package)
    found = []
    for info in pkgutil.iter_modules(module.__path__):
        if info.name.startswith("_") or info.name == "base":
            continue
        value = getattr(importlib.import_module(f"{package}.{info.name}"), attribute, None)
        if value is not None:
            found.append(value)
    group = f"medbench.{package.rsplit('.', 1)[-1]}"
    found.extend(_load(entry) for entry in entry_points(group=group))
    return found


def plugin_dirs(kind: str) -> list[Path]:
    """Where the YAML plug-ins of one kind lie: medbench's folder, then each folder an installed
    distribution declares under ``medbench.<kind>`` (the folder of the module it names)."""
    extra = []
    for entry in entry_points(group=f"medbench.{kind}"):
        module = _load(entry)
        extra.append(Path(module.__file__).parent)
    return [plugin_dir(kind), *extra]


def _files(kind: str, exclude: tuple[str, ...]) -> dict[str, list[Path]]:
    files: dict[str, list[Path]] = {}
    for folder in plugin_dirs(kind):
        for path in sorted(folder.glob("*.yaml")):
            if path.stem not in exclude:
                files.setdefault(path.stem, []).append(path)
    return files


def plugin_names(kind: str, exclude: tuple[str, ...] = ()) -> list[str]:
    return sorted(_files(kind, exclude))


def load_plugin(kind: str, name: str, what: str, schema: Any, exclude: tuple[str, ...] = ()) -> dict:
    """``<name>.yaml`` of one kind checked against its declared ``schema``; an unknown name, a name two
    plug-ins define, or a malformed file is one line."""
    files = _files(kind, exclude)
    if name not in files:
        raise MedbenchError(f"unknown {what} '{name}' ({what}s: {', '.join(sorted(files))})")
    if len(files[name]) > 1:
        raise MedbenchError(f"{what} '{name}' is defined twice: {', '.join(map(str, files[name]))}")
    return checked(files[name][0], schema)
