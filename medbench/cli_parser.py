"""The ``medbench`` argument parser: one subcommand per command module; the backend flags come from the
backends' typed configs (:mod:`medbench.backend_flags`), the stage names from the stage registry."""

from __future__ import annotations

import argparse

from medbench import __version__


def _judge_arguments(p: argparse.ArgumentParser) -> None:
    """What judge and arena share; the judge client's flags are the openai backend's options."""
    from medbench.backend_flags import add_client_arguments

    p.add_argument("--task", help="the generation task to judge (when a run has several)")
    p.add_argument("--rubric", required=True, help="a rubric in judges/ (iimedgpt_pf, zhongjing_spf, ...)")
    p.add_argument("--judge-model", required=True, help="the judge's model name on its server")
    p.add_argument("--lang", default="zh", choices=["zh", "en"])
    p.add_argument(
        "--order", default="both", choices=["both", "random"], help="both orders, or one (half cost)"
    )
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--output", default="runs")
    p.add_argument("--price-in", type=float, default=0.0, help="cost per 1M prompt tokens")
    p.add_argument("--price-out", type=float, default=0.0, help="cost per 1M completion tokens")
    add_client_arguments(p)


def build_parser() -> argparse.ArgumentParser:
    """The parser; each subcommand calls its ``cmd_*`` function in :mod:`medbench.cli`."""
    from medbench import cli as commands
    from medbench.backend_flags import add_backend_arguments
    from medbench.train.stages import registry as stage_registry

    parser = argparse.ArgumentParser(prog="medbench", description="Evaluate Chinese medical LLMs.")
    parser.add_argument("--version", action="version", version=f"medbench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show lm-eval's progress logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("tasks", help="list every task and group: data source, splits, items, metrics, shots")
    p.add_argument("--data-dir", help="count items in local data (official layout)")
    p.set_defaults(func=commands.cmd_tasks)

    p = sub.add_parser("run", help="evaluate a model on tasks and write a run folder")
    p.add_argument("--model", help="checkpoint folder, hub id, or alias (tiny, smollm2-135m)")
    p.add_argument("--tasks", required=True, help="comma-separated task or group names")
    p.add_argument("--shots", type=int, help="override the tasks' number of few-shot examples")
    p.add_argument("--mode", choices=["loglik", "gen"], help="score options by log-likelihood, or generate")
    p.add_argument("--limit", type=int, help="evaluate only the first N items of each task")
    p.add_argument("--data-dir", help="folder with the benchmarks' official files (default $MEDBENCH_DATA)")
    p.add_argument("--output", default="runs", help="where run folders go (default runs/)")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--repeats", type=int, default=1, help="run R times (seed, seed+1, ...): mean and std")
    p.add_argument(
        "--shard",
        metavar="I/N",
        help="evaluate the I-th (0-based) of N deterministic parts of every task's items; "
        "`medbench merge` joins the N run folders",
    )
    p.add_argument(
        "--prompt-style",
        default="official",
        choices=["official", "lm-eval"],
        help="benchmarks' official templates, or lm-eval's own (to check numbers against lm-eval)",
    )
    p.add_argument("--chat", action="store_true", help="every prompt through the model's chat template")
    p.add_argument("--system-prompt", help="--chat: the system turn (default: the task's description)")
    p.add_argument(
        "--fewshot-in-one-turn",
        dest="fewshot_as_multiturn",
        action="store_false",
        help="--chat: the few-shot examples in the user turn (default: alternating user/assistant turns)",
    )
    p.add_argument(
        "--thinking",
        default="auto",
        choices=["auto", "on", "off"],
        help="the chat template's thinking switch (enable_thinking); on: generation tasks only, no stop "
        "strings, 4096 new tokens unless --max-new-tokens; thinking is always removed before scoring",
    )
    p.add_argument("--think-tags", metavar="OPEN,CLOSE", help="thinking markers (default <think>,</think>)")
    p.add_argument(
        "--extractor",
        default="patterns",
        choices=["patterns", "llm"],
        help="llm: replies no pattern parses (only those) go to --extractor-model; marked and counted",
    )
    p.add_argument("--extractor-model", help="the extractor's model name (an OpenAI-compatible server)")
    p.add_argument("--extractor-base-url", help="the extractor's server (key from OPENAI_API_KEY)")
    p.add_argument("--extractor-timeout", type=float, default=60.0, help="seconds per extractor request")
    p.add_argument(
        "--extractor-max-retries",
        type=int,
        default=3,
        help="retries per extractor request; then the item is failed (left out, counted, exit 3)",
    )
    p.add_argument("--preset", help="named decoding settings (chimed: top_p 0.9, 512 tokens, sampling)")
    p.add_argument("--temperature", type=float, help="sampling temperature (0 = greedy)")
    p.add_argument("--top-p", type=float, help="nucleus sampling")
    p.add_argument("--max-new-tokens", type=int, help="override every generation task's length limit")
    add_backend_arguments(p)
    p.set_defaults(func=commands.cmd_run)

    p = sub.add_parser("merge", help="join the run folders of --shard 0/N ... N-1/N into the unsharded run's")
    p.add_argument("shards", nargs="+", help="the N shard run folders")
    p.add_argument("--output", default="runs", help="where the merged run folder goes (default runs/)")
    p.set_defaults(func=commands.cmd_merge)

    p = sub.add_parser("data", help="fetch public benchmark files from their pinned hub mirrors; check them")
    data = p.add_subparsers(dest="data_command", required=True)
    for name, text in (
        ("pull", "fetch what the tasks or suite need into the hub cache (for offline nodes)"),
        ("verify", "check every cached mirror file against the hash its pinned revision names"),
    ):
        q = data.add_parser(name, help=text)
        q.add_argument("--tasks", default="", help="comma-separated tasks or groups")
        q.add_argument("--suite", help="a suite's tasks (suites/<name>.yaml)")
        if name == "pull":
            q.add_argument("--to", help="use DIR as the hub cache (then HF_HUB_CACHE=DIR offline)")
        q.set_defaults(func=commands.cmd_data)

    stages = list(stage_registry())
    p = sub.add_parser("train", help=f"train one stage of a recipe ({', '.join(stages)})")
    p.add_argument("stage", choices=stages)
    p.add_argument(
        "--config", required=True, help="recipe YAML (trainers/<name>.yaml) or a shipped recipe name"
    )
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. training.learning_rate=1e-4")
    p.add_argument(
        "--dry-run", action="store_true", help="print the resolved config and effective batch size"
    )
    p.add_argument("--output-root", help="folder for the stage outputs (default: the recipe's output_root)")
    p.set_defaults(func=commands.cmd_train)

    p = sub.add_parser("judge", help="pairwise win/tie/loss between two runs with an LLM judge")
    p.add_argument("--runs", nargs=2, required=True, metavar=("RUN_A", "RUN_B"))
    _judge_arguments(p)
    p.set_defaults(func=commands.cmd_judge)

    p = sub.add_parser("arena", help="judge every pair of runs and rank them (Bradley-Terry with CIs)")
    p.add_argument("--runs", nargs="+", required=True)
    p.add_argument("--dimension", help="the rubric dimension to rank on (default: its first)")
    _judge_arguments(p)
    p.set_defaults(func=commands.cmd_arena)

    p = sub.add_parser("suite", help="one paper's whole evaluation, then its tables beside the paper's")
    p.add_argument("name", help="chimed_gpt, qilin_med, zhongjing or iimedgpt")
    p.add_argument("--model", help="checkpoint folder, hub id, or alias (tiny, smollm2-135m)")
    p.add_argument("--data-dir")
    p.add_argument("--output", default="runs")
    p.add_argument("--limit", type=int)
    p.add_argument("--max-new-tokens", type=int)
    p.add_argument("--baseline", help="run folder(s) of the baseline model, for the judge step")
    p.add_argument("--judge-model", help="the judge step's model (an OpenAI-compatible server)")
    p.add_argument("--judge-base-url", help="the judge's server (key from OPENAI_API_KEY)")
    p.add_argument("--items", help="MICA item texts (JSON)")
    p.add_argument("--dry-run", action="store_true", help="list every task, setting and output; run nothing")
    add_backend_arguments(p)
    p.set_defaults(func=commands.cmd_suite)

    p = sub.add_parser(
        "report", help="leaderboards (Markdown, HTML), paper-style tables, plots from run folders"
    )
    p.add_argument("folders", nargs="+", help="run, judge or bias folders, or directories holding them")
    p.add_argument("--out", default="reports/site")
    p.add_argument("--format", default="all", choices=["all", "md", "html", "csv", "latex"])
    p.add_argument("--no-published", action="store_true", help="leave the papers' published rows out")
    p.add_argument(
        "--convention",
        help="headline metric convention for every task (cmexam-official, jieba, mention-set, ...; README "
        "Conventions); the column names the metric shown",
    )
    p.set_defaults(func=commands.cmd_report)

    p = sub.add_parser(
        "explain", help="one task's scores under every convention, mode and prompt style in the run folders"
    )
    p.add_argument("runs", nargs="+", help="run folders (e.g. one per mode or prompt style)")
    p.add_argument("--task", required=True, help="the task (its _gen and _loglik variants are included)")
    p.set_defaults(func=commands.cmd_explain)

    p = sub.add_parser("bias", help="attitude scales toward people with mental illness (CAMI, MICA)")
    p.add_argument("--scale", required=True, choices=["cami", "mica", "all"])
    p.add_argument("--model", help="checkpoint folder, hub id, or alias (tiny, smollm2-135m)")
    p.add_argument(
        "--mode",
        default="gen",
        choices=["gen", "loglik"],
        help="the paper's protocol, or option log-likelihoods",
    )
    p.add_argument("--lang", default="zh", choices=["zh", "en"])
    p.add_argument("--items", help="MICA item texts (JSON); MICA's publisher forbids shipping them")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--option-order", default="as-is", choices=["as-is", "reversed", "shuffled"])
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--temperature", type=float, help="sample replies (gen mode); default greedy")
    p.add_argument("--output", default="runs")
    add_backend_arguments(p)
    p.set_defaults(func=commands.cmd_bias)

    p = sub.add_parser(
        "demo", help="train the tiny model through every stage offline and evaluate each stage"
    )
    p.add_argument("--output", default="runs")
    add_backend_arguments(p)
    p.set_defaults(func=commands.cmd_demo)
    return parser
