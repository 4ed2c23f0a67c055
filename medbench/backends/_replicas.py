"""Several replicas of one served model (``--base-url`` given several times), one client.

Routing keeps each replica's prefix cache hot: requests whose prompts share a long prefix (the
few-shot block of one subject) form one *prefix group*, and a group goes to one replica. Groups are
placed largest first on the least loaded replica; a group larger than an even share of the work is
cut into even-share pieces (each piece still shares its prefix, so a task with one few-shot block for
every question still uses every replica). Each replica has its own ``concurrency`` limit.

Failover: a request that cannot reach its replica (connection refused or reset, timeout — after the
client's own retries) marks that replica dead for the rest of the run and is sent to the next live
replica; every result is kept once, by the caller, so nothing is lost or scored twice. Any other
failure (a 4xx, a 5xx after retries) is a fault of the request, not of the replica, and propagates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from medbench.backends._prefixes import common_prefix
from medbench.core.errors import MedbenchError
from medbench.models import chatcall

#: prompts are in one prefix group when they share at least this many leading tokens (or characters)
MIN_SHARED = 32


def prefix_groups(prompts: Sequence[Sequence]) -> list[int]:
    """A group id per prompt. In sorted order, neighbours are linked when they share at least
    :data:`MIN_SHARED` leading items and at least half of the shorter prompt: questions after one
    few-shot block share most of their prompt, while different subjects share at most a header."""
    order = sorted(range(len(prompts)), key=lambda k: tuple(prompts[k]))
    ids = [0] * len(prompts)
    group = -1
    for position, k in enumerate(order):
        if position:
            prev = prompts[order[position - 1]]
            shared = common_prefix(prev, prompts[k])
            linked = shared >= MIN_SHARED and 2 * shared >= min(len(prev), len(prompts[k]))
        else:
            linked = False
        group += 0 if linked else 1
        ids[k] = group
    return ids


def assign(groups: list[int], replicas: int) -> list[int]:
    """A replica per prompt: whole prefix groups, largest first, each on the least loaded replica;
    a group above an even share (ceil(total / replicas)) is cut into pieces of that size first."""
    share = -(-len(groups) // replicas)
    members: dict[int, list[int]] = {}
    for k, g in enumerate(groups):
        members.setdefault(g, []).append(k)
    pieces = [m[i : i + share] for m in members.values() for i in range(0, len(m), share)]
    load = [0] * replicas
    out = [0] * len(groups)
    for piece in sorted(pieces, key=lambda p: (-len(p), p[0])):
        target = min(range(replicas), key=lambda r: (load[r], r))
        load[target] += len(piece)
        for k in piece:
            out[k] = target
    return out


@dataclass
class Replica:
    url: str
    alive: bool = True
    answered: int = 0  # requests this replica answered
    client: object = None  # the client and the concurrency gate of the current event loop
    gate: asyncio.Semaphore | None = None


@dataclass
class ReplicaPool:
    """The replicas of one run (which are alive, who answered what). :meth:`call` runs a request on its
    planned replica or fails over. Clients belong to an event loop: :meth:`open` before a batch of
    requests, :meth:`close` after it; a replica found dead stays dead for later batches."""

    urls: list[str]
    concurrency: int
    max_retries: int
    timeout: float
    replicas: list[Replica] = field(init=False)
    failovers: list[dict] = field(default_factory=list)  # {"from": url, "error": ...} per moved request

    def __post_init__(self) -> None:
        self.replicas = [Replica(u) for u in self.urls]

    def open(self) -> None:
        for r in self.replicas:
            r.client = chatcall.client(r.url, self.max_retries, self.timeout)
            r.gate = asyncio.Semaphore(self.concurrency)

    async def close(self) -> None:
        await asyncio.gather(*(r.client.close() for r in self.replicas if r.client is not None))
        for r in self.replicas:
            r.client = r.gate = None

    def plan(self, prompts: Sequence[Sequence]) -> list[int]:
        """The replica each prompt goes to (prefix affinity, balanced)."""
        return assign(prefix_groups(prompts), len(self.replicas)) if prompts else []

    async def call(self, planned: int, request: Callable[[object], Awaitable]):
        """``request(client)`` on replica ``planned``, or on the next live one when it is unreachable."""
        import openai

        for step in range(len(self.replicas)):
            replica = self.replicas[(planned + step) % len(self.replicas)]
            if not replica.alive:
                continue
            async with replica.gate:
                if not replica.alive:  # it died while this request waited for the gate
                    continue
                try:
                    reply = await request(replica.client)
                except openai.APIConnectionError as exc:  # includes timeouts: the replica is gone
                    replica.alive = False
                    self.failovers.append({"from": replica.url, "error": chatcall.describe(exc)})
                    continue
            replica.answered += 1
            return reply
        dead = "; ".join(f"{f['from']}: {f['error']}" for f in self.failovers[-len(self.replicas) :])
        raise MedbenchError(
            f"no replica of the served model answers ({dead}); finished requests are cached, re-run "
            "the command when a server is up"
        )

    def record(self) -> dict:
        """What calls.json says about the replicas: who answered how much, which died."""
        return {
            "replicas": [{"url": r.url, "answered": r.answered, "alive": r.alive} for r in self.replicas],
            "failovers": len(self.failovers),
        }
