"""Checks that turn a bad setting or an unusable task into one line before any model loads, and the
warnings that say when a finished run's numbers rest on replies that mostly could not be read.

Without them lm-eval would read ``--shots -1`` as zero-shot, ``--temperature -1`` as greedy and
``--limit 0`` as "everything", or stop with an AssertionError deep inside a few-shot sampler.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from medbench.config.fields import check
from medbench.core.errors import MedbenchError

if TYPE_CHECKING:
    from medbench.analysis.summary import Score
    from medbench.config.run import RunConfig

log = logging.getLogger("medbench")

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
    """Every run setting within its declared type and range (:mod:`medbench.config.run`; the
    backend's own options: its ``validate``), ``--shard`` in its I/N form, and the seed of the last
    repeat (seed + repeats - 1) within a seed's range."""
    from medbench.config.run import MAX_SEED

    check(config)
    if config.seed + config.repeats - 1 > MAX_SEED:
        raise MedbenchError(
            f"--seed {config.seed} with --repeats {config.repeats}: the last repeat's seed would pass "
            f"{MAX_SEED} (numpy and torch take a 32-bit seed)"
        )
    if config.shard is not None:
        parse_shard(config.shard)


def check_no_task_twice(manager, names: list[str]) -> None:
    """A task named twice, alone or inside a group also named (``ceval_med,ceval_med_physician``):
    lm-eval would stop on a duplicate; scoring it twice would count its items twice in a mean."""
    from medbench.data.catalog import leaf_tasks

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
    if (cfg.get("fewshot_config") or {}).get("samples"):
        return  # the YAML gives its examples itself
    # where lm-eval draws examples from: the few-shot split, else the training split, else validation
    # -- never the split being evaluated (lm-eval would draw a question's examples from its own test)
    apart = cfg.get("validation_split") if cfg.get("test_split") else None
    pool = cfg.get("fewshot_split") or cfg.get("training_split") or apart
    if wanted and pool in data and len(data[pool]) < wanted:
        raise MedbenchError(
            f"{task}: {wanted} few-shot examples asked for, but split '{pool}' holds {len(data[pool])} "
            "usable item(s) (lower --shots, or fix the few-shot file)"
        )
    if wanted and not pool:
        raise MedbenchError(f"{task}: this task has no few-shot examples; use --shots 0")


#: what to try, per rate: only advice that fits the tasks the rate comes from
ADVICE = {
    "parse_fail_rate": "try --mode loglik, a larger --max-new-tokens, or --chat for a chat model",
    "unparsed_rate": "try a larger --max-new-tokens, or --chat for a chat model",
    "empty_rate": "try a larger --max-new-tokens, or --chat for a chat model",
    "truncated_thinking_rate": "try a larger --max-new-tokens, or --thinking off",
}
SHOWN = 5  # tasks named in one warning; the rest counted


def warn_unusable(scores: list[Score]) -> list[str]:
    """One warning line per kind of unusable reply (however many tasks have it), with the advice that
    fits that kind; returns the lines. A group's micro/macro rows repeat their tasks and are skipped."""
    found: dict[str, list[Score]] = {}
    for s in scores:
        bar = WARN_RATES.get(s.metric, WARN_RATE)
        if s.convention.startswith(("micro", "macro")):
            continue
        if s.metric in UNUSABLE_RATES and s.value is not None and s.value > bar:
            found.setdefault(s.metric, []).append(s)
    lines = []
    for metric, hits in found.items():
        each = [f"{s.task}: {100 * s.value:.0f}% of {s.n}" for s in hits[:SHOWN]]
        more = f", and {len(hits) - SHOWN} more task(s)" if len(hits) > SHOWN else ""
        what = f"{UNUSABLE_RATES[metric]} ({metric})"
        lead = (
            f"{each[0]} {what}" if len(hits) == 1 else f"{len(hits)} tasks ({'; '.join(each)}{more}): {what}"
        )
        lines.append(f"{lead}; their scores rest on few readable replies: {ADVICE[metric]}")
    for line in lines:
        log.warning(line)
    return lines
