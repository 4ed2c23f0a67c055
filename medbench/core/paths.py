"""Where medbench finds its plug-ins, bundled resources and caches, installed or from a checkout.

A wheel carries the top-level plug-in folders inside the package (``medbench/_plugins/<kind>``); a
checkout or editable install reads them from the repository root. Either way callers ask here.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent
RESOURCES_DIR = PACKAGE_DIR / "resources"
SAMPLES_DIR = RESOURCES_DIR / "samples"


def plugin_dir(kind: str) -> Path:
    """The folder of one plug-in kind (``tasks``, ``judges``, ...), installed copy first."""
    installed = PACKAGE_DIR / "_plugins" / kind
    if installed.is_dir():
        return installed
    return PACKAGE_DIR.parent / kind


def cache_dir() -> Path:
    """medbench's own cache (converted models, the tiny demo model); ``MEDBENCH_CACHE`` overrides."""
    root = os.environ.get("MEDBENCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "medbench"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path
