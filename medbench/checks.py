"""Checks that turn a bad setting or an unusable task into one line before any model loads, and the
warnings that say when a finished run's numbers rest on replies that mostly could not be read.

Without them lm-eval would read ``--shots -1`` as zero-shot, ``--temperature -1`` as greedy and
``--limit 0`` as "everything", or stop with an AssertionError deep inside a few-shot sampler.
"""

from __future__ import annotations

import logging
from math import isfinite
from typing import TYPE_CHECKING

from medbench.backends.base import at_least
from medbench.errors import MedbenchError

if TYPE_CHECKING:
    from medbench.runner import RunConfig
    from medbench.summary import Score

log = logging.getLogger("medbench")

#: no model's context holds more new tokens than this; a larger --max-new-tokens is a typo
MAX_NEW_TOKENS = 1_048_576

#: a reply-quality rate above this gets one warning line with what to try
WARN_RATE = 0.2
#: per-item rates that mean "the reply could not be used"
UNUSABLE_RATES = {
    "parse_fail_rate": "replies named no option",
    "unparsed_rate": "replies had no parseable entity line",
    "empty_rate": "replies were empty",
    "truncated_thinking_rate": "replies were cut off while still thinking",
}
#: a lower bar for a rate that only a too-small generation budget causes
WARN_RATES = {"truncated_thinking_rate": 0.05}


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> (I, N) with 0 <= I < N, or one line saying what is expected."""
    index, sep, count = text.partition("/")
    if not (sep and index.strip().isdigit() and count.strip().isdigit()) or not 0 <= int(index) < int(count):
        raise MedbenchError(f"--shard {text}: expected I/N with 0 <= I < N (e.g. 0/4 ... 3/4)")
    return int(index), int(count)


def check_config(config: RunConfig) -> None:
    """Every numeric run option within its range (the backend's own options: its ``validate``)."""
    if not config.tasks:
        raise MedbenchError("--tasks names no task (comma-separated task or group names)")
    at_least(config.limit, 1, "--limit", "at least 1 item per task (leave it out for all items)")
    at_least(config.repeats, 1, "--repeats", "at least 1")
    at_least(config.shots, 0, "--shots", "0 or more")
    at_least(config.max_new_tokens, 1, "--max-new-tokens", "at least 1")
    at_least(config.temperature, 0, "--temperature", "0 (greedy) or more")
    if config.temperature is not None and not isfinite(config.temperature):
        raise MedbenchError(
            f"--temperature must be a finite number, 0 (greedy) or more (got {config.temperature})"
        )
    if config.max_new_tokens is not None and config.max_new_tokens > MAX_NEW_TOKENS:
        raise MedbenchError(
            f"--max-new-tokens {config.max_new_tokens} is more than any model's context "
            f"(at most {MAX_NEW_TOKENS})"
        )
    at_least(config.seed, 0, "--seed", "0 or more (numpy and torch take no negative seed)")
    if config.shard is not None:
        parse_shard(config.shard)
    at_least(config.extractor_max_retries, 0, "--extractor-max-retries", "0 or more")
    if not (isfinite(config.extractor_timeout) and config.extractor_timeout > 0):
        raise MedbenchError(
            f"--extractor-timeout must be a positive number of seconds (got {config.extractor_timeout})"
        )
    if config.top_p is not None and not 0 < config.top_p <= 1:
        raise MedbenchError(f"--top-p must be in (0, 1] (got {config.top_p})")


def check_no_task_twice(manager, names: list[str]) -> None:
    """A task named twice, alone or inside a group also named (``ceval_med,ceval_med_physician``):
    lm-eval would stop on a duplicate; scoring it twice would count its items twice in a mean."""
    from medbench.catalog import leaf_tasks

    seen: dict[str, str] = {}
    for name in names:
        for leaf in leaf_tasks(manager, name):
            if leaf in seen:
                first, second = (leaf if n == leaf else f"{leaf} (in {n})" for n in (seen[leaf], name))
                raise MedbenchError(f"--tasks names {first} and {second}: each task once (drop one)")
            seen[leaf] = name


def check_generation_budget(config: RunConfig, lm) -> None:
    """``--max-new-tokens`` that leaves the model no room for its prompt: one line once the model
    says how long a sequence it takes (lm-eval would fail deep inside generation)."""
    try:
        longest = lm.max_length
    except Exception:  # a served model: the server knows its context, and says so per request
        return
    if config.max_new_tokens is not None and isinstance(longest, int) and config.max_new_tokens >= longest:
        raise MedbenchError(
            f"--max-new-tokens {config.max_new_tokens} leaves no room for the prompt: the model takes "
            f"{longest} tokens in all (prompt and reply); give fewer"
        )


def check_task_data(task: str, data, cfg: dict, shots: int | None) -> None:
    """A task with no item to evaluate, or fewer usable few-shot examples than asked for."""
    if data is None:
        return
    split = cfg.get("test_split") or cfg.get("validation_split")
    if split in data and len(data[split]) == 0:
        raise MedbenchError(
            f"{task}: no item to evaluate in split '{split}' (a file with only a header, or every row "
            "malformed: see the warnings above)"
        )
    wanted = cfg.get("num_fewshot", 0) if shots is None else shots
    pool = cfg.get("fewshot_split")
    if wanted and pool in data and len(data[pool]) < wanted:
        raise MedbenchError(
            f"{task}: {wanted} few-shot examples asked for, but split '{pool}' holds {len(data[pool])} "
            "usable item(s) (lower --shots, or fix the few-shot file)"
        )
    if wanted and not pool:
        raise MedbenchError(f"{task}: this task has no few-shot examples; use --shots 0")


def warn_unusable(scores: list[Score]) -> list[str]:
    """One warning line per task whose replies were mostly unusable; returns the lines."""
    lines = []
    for s in scores:
        bar = WARN_RATES.get(s.metric, WARN_RATE)
        if s.metric in UNUSABLE_RATES and s.value is not None and s.value > bar:
            lines.append(
                f"{s.task}: {100 * s.value:.0f}% of {s.n} {UNUSABLE_RATES[s.metric]} ({s.metric}); its "
                "scores rest on few readable replies: try --mode loglik, a larger --max-new-tokens, "
                "or --chat for a chat model"
            )
    for line in lines:
        log.warning(line)
    return lines
