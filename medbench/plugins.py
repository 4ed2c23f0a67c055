"""One loader for the YAML plug-ins (judge rubrics, suites, bias scales): a name in its folder, or one
line naming what exists."""

from __future__ import annotations

import yaml

from medbench.errors import MedbenchError
from medbench.paths import plugin_dir


def plugin_names(kind: str, exclude: tuple[str, ...] = ()) -> list[str]:
    return sorted(p.stem for p in plugin_dir(kind).glob("*.yaml") if p.stem not in exclude)


def load_plugin(kind: str, name: str, what: str, exclude: tuple[str, ...] = ()) -> dict:
    """``<kind>/<name>.yaml`` parsed; an unknown name is one line listing the known ones."""
    path = plugin_dir(kind) / f"{name}.yaml"
    if name in exclude or not path.is_file():
        raise MedbenchError(f"unknown {what} '{name}' ({what}s: {', '.join(plugin_names(kind, exclude))})")
    return yaml.safe_load(path.read_text(encoding="utf-8"))
