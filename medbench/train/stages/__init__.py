"""Training stages, one module each: ``pretrain``, ``sft``, ``reward``, ``rejection_sampling``, ``rl``,
``dpo``.

Every public module in this folder that names a ``STAGE`` (a :class:`~medbench.train.stages.base.Stage`)
is a stage: ``medbench train``, the report's stage order and the demo find it here, and so is a
``STAGE`` an installed distribution declares under the entry-point group ``medbench.stages``.
"""

from __future__ import annotations

from medbench.config.plugins import discover
from medbench.core.errors import MedbenchError
from medbench.train.stages.base import Stage


def registry() -> dict[str, Stage]:
    """Stage name -> stage, in pipeline order (this package's, then the entry point group
    ``medbench.stages``'s: :func:`medbench.config.plugins.discover`)."""
    found: list[Stage] = discover(__name__, "STAGE")
    return {s.name: s for s in sorted(found, key=lambda s: (s.order, s.name))}


def get_stage(name: str) -> Stage:
    stages = registry()
    if name not in stages:
        raise MedbenchError(f"unknown stage '{name}' (stages: {', '.join(stages)})")
    return stages[name]
