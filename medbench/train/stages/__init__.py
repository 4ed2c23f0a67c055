"""Training stages, one module each: ``pretrain``, ``sft``, ``reward``, ``rejection_sampling``, ``rl``,
``dpo``.

Every public module in this folder that names a ``STAGE`` (a :class:`~medbench.train.stages.base.Stage`)
is a stage: ``medbench train``, the report's stage order and the demo find it here.
"""

from __future__ import annotations

import importlib
import pkgutil

from medbench.errors import MedbenchError
from medbench.train.stages.base import Stage


def registry() -> dict[str, Stage]:
    """Stage name -> stage, in pipeline order."""
    found: list[Stage] = []
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("_") or module.name == "base":
            continue
        stage = getattr(importlib.import_module(f"{__name__}.{module.name}"), "STAGE", None)
        if stage is not None:
            found.append(stage)
    return {s.name: s for s in sorted(found, key=lambda s: (s.order, s.name))}


def get_stage(name: str) -> Stage:
    stages = registry()
    if name not in stages:
        raise MedbenchError(f"unknown stage '{name}' (stages: {', '.join(stages)})")
    return stages[name]
