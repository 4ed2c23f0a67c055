"""One loader for the YAML plug-ins (judge rubrics, suites, bias scales): a name in its folder, checked
against its declared shape, or one line naming what exists or what is wrong."""

from __future__ import annotations

from typing import Any

from medbench.config.plugin_files import checked
from medbench.errors import MedbenchError
from medbench.paths import plugin_dir


def plugin_names(kind: str, exclude: tuple[str, ...] = ()) -> list[str]:
    return sorted(p.stem for p in plugin_dir(kind).glob("*.yaml") if p.stem not in exclude)


def load_plugin(kind: str, name: str, what: str, schema: Any, exclude: tuple[str, ...] = ()) -> dict:
    """``<kind>/<name>.yaml`` checked against its declared ``schema``
    (:mod:`medbench.config.plugin_files`); an unknown name, or a malformed file, is one line."""
    path = plugin_dir(kind) / f"{name}.yaml"
    if name in exclude or not path.is_file():
        raise MedbenchError(f"unknown {what} '{name}' ({what}s: {', '.join(plugin_names(kind, exclude))})")
    return checked(path, schema)
