"""The ``medbench`` argument parser: one subcommand per command module; the backend flags come from the
backends' typed configs (:mod:`medbench.backends.flags`), the stage names from the stage registry."""

from __future__ import annotations

import argparse
from pathlib import Path

from medbench import __version__


def _judge_arguments(p: argparse.ArgumentParser) -> None:
    """What judge and arena share: JudgeConfig's flags; the judge client's are the openai backend's
    options."""
    from medbench.backends.flags import add_client_arguments
    from medbench.config.fields import add_arguments
    from medbench.config.judge import JudgeConfig

    add_arguments(p, JudgeConfig)
    add_client_arguments(p)


def build_parser() -> argparse.ArgumentParser:
    """The parser; :func:`medbench.cli.main.main` calls ``cmd_<command>`` for the subcommand chosen."""
    from medbench.backends.flags import add_backend_arguments
    from medbench.config.bias import BiasConfig
    from medbench.config.fields import add_arguments
    from medbench.config.report import ReportConfig
    from medbench.config.run import RunConfig
    from medbench.config.suite import SuiteConfig
    from medbench.train.stages import registry as stage_registry

    parser = argparse.ArgumentParser(prog="medbench", description="Evaluate Chinese medical LLMs.")
    parser.add_argument("--version", action="version", version=f"medbench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show lm-eval's progress logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("tasks", help="list every task and group: data source, splits, items, metrics, shots")
    p.add_argument("--data-dir", help="count items in local data (official layout)")
    add_arguments(p, RunConfig, only=("include_path",))

    p = sub.add_parser("run", help="evaluate a model on tasks and write a run folder")
    add_arguments(p, RunConfig)
    add_backend_arguments(p)

    p = sub.add_parser("merge", help="join the run folders of --shard 0/N ... N-1/N into the unsharded run's")
    p.add_argument("shards", nargs="+", help="the N shard run folders")
    p.add_argument("--output", default="runs", help="where the merged run folder goes (default runs/)")
    p.add_argument(
        "--include-path",
        metavar="DIR",
        help="the shards' own task folder (their --include-path): its hooks are code, so merge loads it "
        "only when you name it here",
    )

    p = sub.add_parser(
        "slurm",
        help="a run as a Slurm array of --shard jobs and the merge that waits for them",
        usage="medbench slurm --shards N [options] [--dry-run | --submit] -- RUN-ARGS...\n"
        "       medbench slurm --resume FOLDER [--submit] | --merge FOLDER",
    )
    p.add_argument("--shards", type=int, help="N: array tasks, each running --shard I/N")
    p.add_argument(
        "--folder", help="where the scripts, logs and shards go (default: <--output>/slurm-<time>)"
    )
    p.add_argument("--partition")
    p.add_argument("--account")
    p.add_argument("--time", help="each array task's time limit, e.g. 04:00:00")
    p.add_argument("--gpus-per-task", type=int)
    p.add_argument("--cpus-per-task", type=int)
    p.add_argument("--sbatch-arg", action="append", default=[], help="one more sbatch option (repeatable)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--dry-run", action="store_true", help="print the scripts; write and submit nothing")
    how.add_argument("--submit", action="store_true", help="submit the array and the merge with sbatch")
    p.add_argument("--resume", metavar="FOLDER", help="rewrite nothing; resubmit the shards not complete")
    p.add_argument("--merge", metavar="FOLDER", help="merge the shards (what the merge job runs)")
    p.add_argument("run_args", nargs=argparse.REMAINDER, help="after --: the medbench run arguments")

    p = sub.add_parser("data", help="fetch public benchmark files from their pinned sources; check; list")
    data = p.add_subparsers(dest="data_command", required=True)
    for name, text in (
        ("pull", "fetch and verify what the tasks or suite need (hub mirrors, pinned git files)"),
        ("verify", "check every fetched file against the hash its pin names"),
    ):
        q = data.add_parser(name, help=text)
        q.add_argument("--tasks", default="", help="comma-separated tasks or groups")
        q.add_argument("--suite", help="a suite's tasks (suites/<name>.yaml)")
        q.add_argument("--all", action="store_true", help="every benchmark medbench ships")
        if name == "pull":
            q.add_argument("--to", help="use DIR as the hub cache and DIR/medbench-data for pinned files")
            q.add_argument(
                "--hub",
                action="store_true",
                help="a benchmark with a hub mirror (C-Eval, CMMLU) from there, not from its git pin",
            )
    data.add_parser(
        "list", help="each benchmark's source, pin, licence, official or copy, and whether it is here"
    )

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

    p = sub.add_parser("judge", help="pairwise win/tie/loss between two runs with an LLM judge or a jury")
    runs = p.add_mutually_exclusive_group(required=True)
    runs.add_argument("--runs", nargs=2, metavar=("RUN_A", "RUN_B"))
    runs.add_argument(
        "--human-template",
        nargs=2,
        metavar=("RUN_A", "RUN_B"),
        help="write the CSV for human raters (both answers, seats drawn at random, no model names)",
    )
    _judge_arguments(p)

    p = sub.add_parser("arena", help="judge every pair of runs and rank them (Bradley-Terry with CIs)")
    p.add_argument("--runs", nargs="+", required=True)
    p.add_argument("--dimension", help="the rubric dimension to rank on (default: its first)")
    _judge_arguments(p)

    p = sub.add_parser("suite", help="one paper's whole evaluation, then its tables beside the paper's")
    p.add_argument("name", help="chimed_gpt, qilin_med, zhongjing or iimedgpt")
    add_arguments(p, SuiteConfig)
    p.add_argument("--dry-run", action="store_true", help="list every task, setting and output; run nothing")
    add_backend_arguments(p)

    p = sub.add_parser(
        "report", help="leaderboards (Markdown, HTML), paper-style tables, plots from run folders"
    )
    p.add_argument("folders", nargs="+", help="run, judge or bias folders, or directories holding them")
    add_arguments(p, ReportConfig)

    p = sub.add_parser(
        "explain", help="one task's scores under every convention, mode and prompt style in the run folders"
    )
    p.add_argument("runs", nargs="+", help="run folders (e.g. one per mode or prompt style)")
    p.add_argument("--task", required=True, help="the task (its _gen and _loglik variants are included)")

    p = sub.add_parser(
        "compare", help="is B really better than A: paired tests per task (McNemar), Holm, flipped items"
    )
    p.add_argument("run_a", type=Path, help="run folder A (the baseline)")
    p.add_argument("run_b", type=Path, help="run folder B")
    p.add_argument("--task", action="append", help="compare only this task (repeatable; default: all shared)")
    p.add_argument("--metric", default="acc", help="the per-item metric compared (default: acc)")
    p.add_argument("--by-group", action="store_true", help="pool a group's subjects into one comparison")

    p = sub.add_parser(
        "contamination",
        help="which evaluation items training files hold (n-gram overlap, near-duplicates); a model's "
        "Min-K%% probe",
    )
    from medbench.config.contamination import ContaminationConfig

    add_arguments(p, ContaminationConfig)
    add_backend_arguments(p)

    p = sub.add_parser("bias", help="attitude scales toward people with mental illness (CAMI, MICA)")
    add_arguments(p, BiasConfig)
    add_backend_arguments(p)

    p = sub.add_parser(
        "demo", help="train the tiny model through every stage offline and evaluate each stage"
    )
    p.add_argument("--output", default="runs")
    add_backend_arguments(p)
    return parser
