"""The ``medbench`` command line. Each subcommand is a thin layer over one module.

User errors (bad files, unknown names, missing models or data) print one line and exit 2; a run
that finished with failed items exits 3 (incomplete: re-run it); an interrupted run exits 130 and
keeps every finished request in the cache for the re-run.
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys

from medbench.cli.common import model_and_backend, print_result, run_config
from medbench.core import progress
from medbench.core.errors import MedbenchError


class _DropCustomKwargsNotice(logging.Filter):
    """lm-eval warns on every task with a ``custom_dataset`` hook; medbench's tasks all have one."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Custom kwargs can be passed" not in record.getMessage()


def _quiet_libraries(verbose: bool) -> None:
    """Libraries' logs and warnings to log.txt, not the console (:mod:`medbench.core.console`)."""
    from medbench.core import console

    console.setup(verbose)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_DropCustomKwargsNotice())
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def cmd_tasks(args: argparse.Namespace) -> int:
    from medbench.data.catalog import describe, markdown
    from medbench.run.planning import task_manager

    print(markdown(describe(task_manager(include_path=args.include_path), args.data_dir)), end="")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import dataclasses

    import yaml

    from medbench.train.config import effective_batch_size, load_recipe, world_size
    from medbench.train.run import check_training_keys, stage_config
    from medbench.train.stages import get_stage

    recipe = load_recipe(args.config, args.output_root)
    config = stage_config(recipe, args.stage, args.overrides)
    trl_class = check_training_keys(get_stage(args.stage), config)
    if args.dry_run:
        resolved = {
            "recipe": recipe.name,
            "recipe_file": recipe.source,
            "stage": args.stage,
            "trl_config": trl_class,
            **dataclasses.asdict(config),
        }
        print(yaml.safe_dump(resolved, allow_unicode=True, sort_keys=False), end="")
        t = config.training
        print(
            f"effective batch size: {effective_batch_size(config)} = per-device "
            f"{t.get('per_device_train_batch_size', 8)} x gradient accumulation "
            f"{t.get('gradient_accumulation_steps', 1)} x {world_size()} process(es)"
        )
        return 0
    from medbench.train.run import run_stage

    card = run_stage(args.stage, config, recipe)
    print(f"{args.stage}: {card['steps']} steps, loss {card['first_loss']:.4f} -> {card['final_loss']:.4f}")
    if card.get("heldout"):
        h = card["heldout"]
        print(f"held-out {h['metric']} ({h['better']} is better): {h['before']:.4f} -> {h['after']:.4f}")
    print(f"model: {config.output_dir}")
    return 0


def _judge_config(args: argparse.Namespace):
    from medbench.backends.flags import client_options
    from medbench.config.fields import check, from_args
    from medbench.config.judge import JudgeConfig

    runs = args.runs or getattr(args, "human_template", None)
    config = JudgeConfig(runs=runs, **from_args(JudgeConfig, args), **client_options(args))
    check(config)
    return config


def cmd_judge(args: argparse.Namespace) -> int:
    from medbench.judge import judge_incomplete, run_judge, write_human_template

    config = _judge_config(args)
    if args.human_template:
        sheet = write_human_template(config)
        print(f"human rating sheet: {sheet} (seats recorded in {sheet.stem}.key.json beside it)")
        return 0
    folder, summary = run_judge(config)
    print_result(folder, "judge folder")
    reason = judge_incomplete(summary)
    if reason:
        print(f"medbench: judge incomplete: {reason} (exit {INCOMPLETE})", file=sys.stderr)
        return INCOMPLETE
    return 0


def cmd_arena(args: argparse.Namespace) -> int:
    from medbench.judge.arena import run_arena

    return print_result(run_arena(_judge_config(args), args.dimension)[0], "arena folder")


def cmd_suite(args: argparse.Namespace) -> int:
    import yaml

    from medbench.cli.suite import SuiteConfig, plan, run_suite
    from medbench.config.fields import from_args

    config = SuiteConfig(suite=args.name, **{**from_args(SuiteConfig, args), **model_and_backend(args)})
    if args.dry_run:
        print(yaml.safe_dump(plan(config), allow_unicode=True, sort_keys=False), end="")
        return 0
    root, _ = run_suite(config)
    for table in sorted((root / "report" / "tables").glob("*.md")):
        print(table.read_text(encoding="utf-8"))
    print(f"suite folder: {root}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from medbench.config.fields import check, from_args
    from medbench.config.report import ReportConfig
    from medbench.report.site import build

    config = ReportConfig(folders=args.folders, **from_args(ReportConfig, args))
    check(config)
    target = build(
        config.folders,
        config.target,
        config.formats,
        with_published=not (config.no_published or config.clean_only),
        headline=config.convention,
        clean_only=config.clean_only,
    )
    print(f"report written to {target}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from medbench.analysis.explain import explain, markdown

    print(markdown(explain(args.runs, args.task)), end="")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from medbench.analysis.compare import compare, markdown

    results = compare(args.run_a, args.run_b, args.task, args.metric, args.by_group)
    print(markdown(results, args.run_a.name, args.run_b.name), end="")
    return 0


def cmd_contamination(args: argparse.Namespace) -> int:
    from medbench.config.contamination import ContaminationConfig
    from medbench.config.fields import check, from_args
    from medbench.run.contamination import run_contamination

    probed = model_and_backend(args) if args.model or args.model_name else {}
    config = ContaminationConfig(**{**from_args(ContaminationConfig, args), **probed})
    check(config)
    return print_result(run_contamination(config)[0], "contamination folder")


def cmd_bias(args: argparse.Namespace) -> int:
    from medbench.bias.run import BiasConfig, run_bias
    from medbench.config.fields import from_args

    config = BiasConfig(**{**from_args(BiasConfig, args), **model_and_backend(args)})
    folder = run_bias(config)[0]
    print_result(folder, "bias run folder")
    return _exit_status(folder)


#: exit status of a run that finished with failed items (left out of its scores until a re-run)
INCOMPLETE = 3


def _run_and_print(config) -> int:
    from medbench.run.runner import run

    folder = run(config)[0]
    if folder is None:  # a worker of a data-parallel launch: rank 0 prints and writes
        return 0
    print_result(folder, "run folder")
    cached = _from_cache(folder)
    if cached:
        print(cached)
    return _exit_status(folder)


def _from_cache(folder) -> str:
    """``"12 of 12 answers from the request cache ..."`` when a run re-used earlier answers, else "":
    a re-run answered wholly from cache into a new folder says so."""
    from medbench.config.record import RunRecord

    calls = RunRecord.open(folder.path).calls()
    cached = sum(calls.get("answered_from_cache", {}).values())
    total = cached + sum(calls.get("model_requests", {}).values())
    if not cached:
        return ""
    return (
        f"{cached} of {total} answers from the request cache (earlier runs with the same settings); "
        f"{total - cached} asked of the model"
    )


def _exit_status(folder) -> int:
    """0, or :data:`INCOMPLETE` with one line when the folder's status.json says items failed."""
    from medbench.config.record import RunRecord

    status = RunRecord.open(folder.path).status()
    if not status.complete:
        print(f"medbench: run incomplete: {status.reason} (exit {INCOMPLETE})", file=sys.stderr)
        return INCOMPLETE
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from medbench.run.merge import merge

    return print_result(merge(args.shards, args.output, args.include_path)[0], "merged run folder")


def cmd_slurm(args: argparse.Namespace) -> int:
    from medbench.cli.slurmcmd import slurm

    return slurm(args)


def cmd_data(args: argparse.Namespace) -> int:
    from medbench.cli import datacmd

    if args.data_command == "list":
        from medbench.core.safe_cells import markdown_lines

        header = ["Benchmark", "File", "Source", "Kind", "Pin", "Licence", "Here"]
        print("\n".join(markdown_lines(header, datacmd.listing(), "lllllll")))
        return 0
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    if args.data_command == "pull":
        print("\n".join(datacmd.pull(tasks, args.suite, args.to, args.all, args.hub)))
        return 0
    problems, checked = datacmd.check(tasks, args.suite, args.all)
    for line in problems:
        print(f"medbench data verify: {line}", file=sys.stderr)
    print(f"medbench data verify: {checked - len(problems)} of {checked} file(s) match their pins")
    return 1 if problems else 0


def cmd_run(args: argparse.Namespace) -> int:
    return _run_and_print(run_config(args))


def cmd_demo(args: argparse.Namespace) -> int:
    from medbench.cli.demo import demo

    print(
        "medbench demo: tiny LLaMA-style model built offline, trained stage by stage on bundled data, "
        "each stage evaluated on the bundled sample tasks",
        flush=True,
    )
    from medbench.backends.flags import backend_options

    print(demo(args.output, args.backend, backend_options(args)), end="")
    print(f"\nrun folders and demo.md: {args.output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from medbench.cli.parser import build_parser

    try:
        parser = build_parser()  # the plug-ins' flags: a plug-in that cannot be used is one line
    except MedbenchError as exc:
        print(f"medbench: error: {exc}", file=sys.stderr)
        return 2
    args, extra = parser.parse_known_args(argv)
    if args.command == "train":  # key=value overrides may come after the options too
        args.overrides += [e for e in extra if "=" in e and not e.startswith("-")]
        extra = [e for e in extra if not ("=" in e and not e.startswith("-"))]
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    _quiet_libraries(args.verbose)
    progress.stage(f"medbench {args.command}")  # the display's first frame says what runs
    try:
        return globals()[f"cmd_{args.command}"](args)
    except MedbenchError as exc:
        print(f"medbench: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # this machine, not the input: no room, no permission, a name too long
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"medbench: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except sqlite3.OperationalError as exc:  # a cache on a full disk (SQLite's own error, not OSError)
        print(f"medbench: error: a cache could not be written ({exc}); free space, re-run", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "medbench: interrupted; finished requests are cached, re-run the same command to resume",
            file=sys.stderr,
        )
        return 130
