"""Which items a process evaluates: ``--shard I/N`` (a deterministic part of every task, for Slurm
arrays merged by ``medbench merge``) and the process rank under a data-parallel launcher."""

from __future__ import annotations

import os

from medbench.core.errors import MedbenchError
from medbench.run.checks import parse_shard


def shard_items(shard: str | None, sizes: dict[str, int], limit: int | None) -> dict[str, list[int]] | None:
    """Each task's item ids (doc ids) in shard ``I/N``: ``id % N == I`` over the first ``limit`` items.

    The parts depend only on the item positions and ``--limit``, so they are the same on every
    machine, and ``medbench merge`` of all N equals the unsharded run."""
    if shard is None:
        return None
    index, count = parse_shard(shard)
    selection = {}
    for task, size in sizes.items():
        ids = [i for i in range(min(size, limit or size)) if i % count == index]
        if not ids:
            raise MedbenchError(
                f"--shard {shard}: task {task} has {min(size, limit or size)} item(s), none in this shard "
                "(use fewer shards)"
            )
        selection[task] = ids
    return selection


def process_rank() -> int:
    """This process's rank under ``torchrun`` / ``accelerate launch`` (0 when launched alone)."""
    return int(os.environ.get("RANK") or os.environ.get("LOCAL_RANK") or 0)
