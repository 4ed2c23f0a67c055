"""``RunConfig``: every setting of ``medbench run``, declared once.

Each field says its help text, whether it changes a model's answer (``affects="answer"``: the request
cache and the leaderboard row key) or which items are scored (``affects="items"``: the row key), its
flag and its valid range. The ``run`` flags, config.json (the dataclass itself), the settings that split
leaderboard rows (:data:`medbench.config.schemas.ANSWER_SETTINGS`, ``ITEM_SETTINGS``) and the one-line
validation errors (:func:`check`) all come from here: a new setting is one field below.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from medbench.config.fields import setting

#: no model's context holds more new tokens than this; a larger --max-new-tokens is a typo
MAX_NEW_TOKENS = 1_048_576

#: numpy's and torch's seeds are 32-bit: a larger one is refused before the run folder, never wrapped
MAX_SEED = 2**32 - 1

#: a seed, as every command declares it (the run's repeats take seed, seed+1, ...: checks.check_config)
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]

#: what a valid seed is, for the error line
SEED_RANGE = f"0 or more and at most {MAX_SEED} (numpy and torch take a 32-bit seed)"


def comma_list(text: str) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``."""
    return [part.strip() for part in text.split(",") if part.strip()]


@dataclass
class RunConfig:
    """Everything that determines a run's results; saved verbatim as the run folder's config.json."""

    __pydantic_config__ = ConfigDict(extra="forbid")

    model: str | None = setting(None, "checkpoint folder, hub id, or alias (tiny, smollm2-135m)")
    tasks: Annotated[list[str], Field(min_length=1)] = setting(
        help="comma-separated task or group names",
        parse=comma_list,
        what="a comma-separated list naming at least one task or group",
        factory=list,
    )
    shots: Annotated[int | None, Field(ge=0)] = setting(
        None, "override the tasks' number of few-shot examples", affects="answer", what="0 or more"
    )
    mode: Literal["loglik", "gen"] | None = setting(
        None, "score options by log-likelihood, or generate", affects="answer"
    )
    limit: Annotated[int | None, Field(ge=1, le=sys.maxsize)] = setting(
        None,
        "evaluate only the first N items of each task",
        affects="items",
        what=f"at least 1 item per task and at most {sys.maxsize} (leave it out for all items)",
    )
    include_path: str | None = setting(
        None,
        "a folder of your own task YAMLs (lm-eval's format), indexed beside medbench's as with "
        "lm_eval --include_path; a task name medbench already has is refused",
        metavar="DIR",
    )
    data_dir: str | None = setting(
        None, "folder with the benchmarks' official files (default $MEDBENCH_DATA)"
    )
    output: str = setting("runs", "where run folders go (default runs/)")
    repeats: Annotated[int, Field(ge=1)] = setting(
        1, "run R times (seed, seed+1, ...): mean and std", affects="items", what="at least 1"
    )
    shard: str | None = setting(
        None,
        "evaluate the I-th (0-based) of N deterministic parts of every task's items; "
        "`medbench merge` joins the N run folders",
        affects="items",
        metavar="I/N",
    )
    circular: bool = setting(
        False,
        "CircularEval: ask each multiple-choice question under every rotation of its options; adds "
        "circular accuracy, answer changes and a position-bias histogram (--limit counts questions)",
        affects="items",
    )
    circular_orders: Literal["cyclic", "all"] = setting(
        "cyclic",
        "with --circular: the n cyclic rotations of the options (CircularEval), or all n! orders "
        "(OpenCompass's full permutation: 24 per 4-option question, 120 per 5)",
        affects="items",
    )
    slice_by: list[str] = setting(
        help="per-slice accuracy with intervals by a per-item field: subject (C-Eval, CMMLU), or a "
        "column the file annotates (CMExam: Disease Group, Clinical Department, Medical Discipline, "
        "Area of Competency, Difficulty level); comma-separated",
        parse=comma_list,
        metavar="COLUMN[,COLUMN]",
        factory=list,
    )
    exclude_contaminated: str | None = setting(
        None,
        "a contamination audit folder (medbench contamination): also score each audited task without "
        "the items it flags (clean_acc, beside acc)",
        metavar="AUDIT_FOLDER",
    )
    card_audit: bool = setting(
        True,
        "skip the automatic contamination audit of a model medbench trained (its card's training files "
        "against the run's items: contamination.json, clean_acc)",
        flag="--no-card-audit",
    )
    fragile_margin: Annotated[float | None, Field(gt=0, allow_inf_nan=False)] = setting(
        None,
        "loglik MC: an item whose top two options are closer than this (nats) is fragile; results give "
        "the accuracy range if such items go either way (default: the backend's measured noise in the run's "
        "dtype, 1e-3 in float32, 0.26 in bfloat16)",
        what="a positive number of nats",
    )
    prompt_style: Literal["official", "lm-eval"] = setting(
        "official",
        "benchmarks' official templates, or lm-eval's own (to check numbers against lm-eval)",
        affects="answer",
    )
    chat: bool = setting(False, "every prompt through the model's chat template", affects="answer")
    system_prompt: str | None = setting(
        None, "--chat: the system turn (default: the task's description)", affects="answer"
    )
    fewshot_as_multiturn: bool = setting(
        True,
        "--chat: the few-shot examples in the user turn (default: alternating user/assistant turns)",
        affects="answer",
        flag="--fewshot-in-one-turn",
    )
    thinking: Literal["auto", "on", "off"] = setting(
        "auto",
        "the chat template's thinking switch (enable_thinking); on: generation tasks only, no stop "
        "strings, 4096 new tokens unless --max-new-tokens; thinking is always removed before scoring",
        affects="answer",
    )
    think_tags: str | None = setting(
        None, "thinking markers (default <think>,</think>)", affects="answer", metavar="OPEN,CLOSE"
    )
    extractor: Literal["patterns", "llm"] = setting(
        "patterns",
        "llm: replies no pattern parses (only those) go to --extractor-model; marked and counted",
        affects="answer",
    )
    extractor_model: str | None = setting(
        None, "the extractor's model name (an OpenAI-compatible server)", affects="answer"
    )
    extractor_base_url: str | None = setting(None, "the extractor's server (key from OPENAI_API_KEY)")
    extractor_timeout: Annotated[float, Field(gt=0, allow_inf_nan=False)] = setting(
        60.0, "seconds per extractor request", what="a positive number of seconds"
    )
    extractor_max_retries: Annotated[int, Field(ge=0)] = setting(
        3,
        "retries per extractor request; then the item is failed (left out, counted, exit 3)",
        what="0 or more",
    )
    preset: str | None = setting(
        None, "named decoding settings (chimed: top_p 0.9, 512 tokens, sampling)", affects="answer"
    )
    temperature: Annotated[float | None, Field(ge=0, allow_inf_nan=False)] = setting(
        None,
        "sampling temperature (0 = greedy)",
        affects="answer",
        what="0 (greedy) or more, a finite number",
    )
    top_p: Annotated[float | None, Field(gt=0, le=1)] = setting(
        None, "nucleus sampling", affects="answer", what="in (0, 1]"
    )
    max_new_tokens: Annotated[int | None, Field(ge=1, le=MAX_NEW_TOKENS)] = setting(
        None,
        "override every generation task's length limit",
        affects="answer",
        what=f"at least 1 and at most {MAX_NEW_TOKENS} (no model's context holds more)",
    )
    seed: Seed = setting(
        1234,
        "seed of sampling and of the few-shot examples' order",
        affects="answer",
        what=SEED_RANGE,
    )
    # the backend (medbench/backends/<name>.py) and its options (their flags: medbench.backends.flags),
    # recorded resolved (e.g. the device)
    backend: str = setting("hf", flag=False)
    backend_options: dict = setting(flag=False, factory=dict)
    resolved_tasks: list[str] = setting(flag=False, factory=list)
