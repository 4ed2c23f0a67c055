"""The ``medbench`` command line. Each subcommand is a thin layer over one module.

User errors (bad files, unknown names, missing models or data) print one line and exit 2; a run
that finished with failed items exits 3 (incomplete: re-run it); an interrupted run exits 130 and
keeps every finished request in the cache for the re-run.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from medbench import __version__
from medbench.errors import MedbenchError


class _DropCustomKwargsNotice(logging.Filter):
    """lm-eval warns on every task with a ``custom_dataset`` hook; medbench's tasks all have one."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Custom kwargs can be passed" not in record.getMessage()


def _quiet_libraries(verbose: bool) -> None:
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.WARNING)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_DropCustomKwargsNotice())
    level = logging.INFO if verbose else logging.WARNING
    for name in ("lm_eval", "lm-eval", "medbench"):
        logging.getLogger(name).setLevel(level if name != "medbench" else logging.INFO)
    logging.getLogger("jieba").setLevel(logging.WARNING)  # jieba logs its dictionary loading at DEBUG
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def cmd_tasks(args: argparse.Namespace) -> int:
    from medbench.catalog import describe, markdown
    from medbench.runner import task_manager

    print(markdown(describe(task_manager(), args.data_dir)), end="")
    return 0


def _model_and_backend(args: argparse.Namespace) -> dict:
    """``model``, ``backend`` and ``backend_options`` from the flags; a local backend needs --model."""
    from medbench.backend_flags import backend_options
    from medbench.backends import backend_class

    options = backend_options(args)
    model = args.model or options.get("model_name")
    if not model:
        if backend_class(args.backend).capabilities.local:
            raise MedbenchError("--model is required (a checkpoint folder, hub id, tiny or smollm2-135m)")
        raise MedbenchError(f"backend {args.backend} needs --model or --model-name (the served model's name)")
    return {"model": model, "backend": args.backend, "backend_options": options}


def _run_config(args: argparse.Namespace):
    from medbench.runner import RunConfig

    return RunConfig(
        tasks=[t.strip() for t in args.tasks.split(",") if t.strip()],
        **_model_and_backend(args),
        **{name: getattr(args, name) for name in RUN_OPTIONS},
    )


def cmd_train(args: argparse.Namespace) -> int:
    import dataclasses

    import yaml

    from medbench.train.config import effective_batch_size, load_recipe, stage_config, world_size

    recipe = load_recipe(args.config, args.output_root)
    config = stage_config(recipe, args.stage, args.overrides)
    from medbench.train.stages import check_training_keys

    trl_class = check_training_keys(args.stage, config)
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
    from medbench.train.stages import run_stage

    card = run_stage(args.stage, config, recipe)
    print(f"{args.stage}: {card['steps']} steps, loss {card['first_loss']:.4f} -> {card['final_loss']:.4f}")
    if card.get("heldout"):
        h = card["heldout"]
        print(f"held-out {h['metric']} ({h['better']} is better): {h['before']:.4f} -> {h['after']:.4f}")
    print(f"model: {config.output_dir}")
    return 0


JUDGE_OPTIONS = (
    "runs",
    "rubric",
    "judge_model",
    "base_url",
    "task",
    "lang",
    "order",
    "concurrency",
    "max_retries",
    "timeout",
    "seed",
    "output",
    "price_in",
    "price_out",
)


def _judge_config(args: argparse.Namespace):
    from medbench.judge import JudgeConfig

    return JudgeConfig(**{name: getattr(args, name) for name in JUDGE_OPTIONS if hasattr(args, name)})


def _print_result(folder, label: str) -> int:
    print((folder.path / "results.md").read_text(encoding="utf-8"), end="")
    print(f"\n{label}: {folder.path}")
    return 0


def cmd_judge(args: argparse.Namespace) -> int:
    from medbench.judge import run_judge

    return _print_result(run_judge(_judge_config(args))[0], "judge folder")


def cmd_arena(args: argparse.Namespace) -> int:
    from medbench.arena import run_arena

    return _print_result(run_arena(_judge_config(args), args.dimension)[0], "arena folder")


def cmd_suite(args: argparse.Namespace) -> int:
    import yaml

    from medbench.suite import SuiteConfig, plan, run_suite

    config = SuiteConfig(
        suite=args.name,
        **_model_and_backend(args),
        data_dir=args.data_dir,
        output=args.output,
        limit=args.limit,
        baseline=args.baseline,
        judge_model=args.judge_model,
        judge_base_url=args.judge_base_url,
        items=args.items,
        max_new_tokens=args.max_new_tokens,
    )
    if args.dry_run:
        print(yaml.safe_dump(plan(config), allow_unicode=True, sort_keys=False), end="")
        return 0
    root, _ = run_suite(config)
    for table in sorted((root / "report" / "tables").glob("*.md")):
        print(table.read_text(encoding="utf-8"))
    print(f"suite folder: {root}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from medbench.report import build

    formats = ["md", "csv", "latex", "html"] if args.format == "all" else [args.format]
    target = build(
        args.folders, args.out, formats, with_published=not args.no_published, headline=args.convention
    )
    print(f"report written to {target}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from medbench.explain import explain, markdown

    print(markdown(explain(args.runs, args.task)), end="")
    return 0


def cmd_bias(args: argparse.Namespace) -> int:
    from medbench.bias_run import BiasConfig, run_bias

    config = BiasConfig(
        scale=args.scale,
        **_model_and_backend(args),
        mode=args.mode,
        lang=args.lang,
        items=args.items,
        repeats=args.repeats,
        option_order=args.option_order,
        seed=args.seed,
        temperature=args.temperature,
        output=args.output,
    )
    return _print_result(run_bias(config)[0], "bias run folder")


#: exit status of a run that finished with failed items (left out of its scores until a re-run)
INCOMPLETE = 3


def _run_and_print(config) -> int:
    import json

    from medbench.runner import run

    folder = run(config)[0]
    _print_result(folder, "run folder")
    status = json.loads((folder.path / "status.json").read_text(encoding="utf-8"))
    if not status["complete"]:
        print(f"medbench: run incomplete: {status['reason']} (exit {INCOMPLETE})", file=sys.stderr)
        return INCOMPLETE
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    return _run_and_print(_run_config(args))


def cmd_demo(args: argparse.Namespace) -> int:
    from medbench.demo import demo

    print(
        "medbench demo: tiny LLaMA-style model built offline, trained stage by stage on bundled data, "
        "each stage evaluated on the bundled sample tasks",
        flush=True,
    )
    from medbench.backend_flags import backend_options

    print(demo(args.output, args.backend, backend_options(args)), end="")
    print(f"\nrun folders and demo.md: {args.output}")
    return 0


RUN_OPTIONS = (
    "shots",
    "mode",
    "limit",
    "data_dir",
    "output",
    "seed",
    "repeats",
    "prompt_style",
    "chat",
    "preset",
    "temperature",
    "top_p",
    "max_new_tokens",
)


def build_parser() -> argparse.ArgumentParser:
    from medbench.backend_flags import add_backend_arguments

    parser = argparse.ArgumentParser(prog="medbench", description="Evaluate Chinese medical LLMs.")
    parser.add_argument("--version", action="version", version=f"medbench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show lm-eval's progress logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("tasks", help="list every task and group: data source, splits, items, metrics, shots")
    p.add_argument("--data-dir", help="count items in local data (official layout)")
    p.set_defaults(func=cmd_tasks)

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
        "--prompt-style",
        default="official",
        choices=["official", "lm-eval"],
        help="benchmarks' official templates, or lm-eval's own (to check numbers against lm-eval)",
    )
    p.add_argument("--chat", action="store_true", help="dialogue turns through the model's chat template")
    p.add_argument("--preset", help="named decoding settings (chimed: top_p 0.9, 512 tokens, sampling)")
    p.add_argument("--temperature", type=float, help="sampling temperature (0 = greedy)")
    p.add_argument("--top-p", type=float, help="nucleus sampling")
    p.add_argument("--max-new-tokens", type=int, help="override every generation task's length limit")
    add_backend_arguments(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "train", help="train one stage of a recipe (pretrain, sft, reward, rejection_sampling, rl, dpo)"
    )
    p.add_argument("stage", choices=["pretrain", "sft", "reward", "rejection_sampling", "rl", "dpo"])
    p.add_argument(
        "--config", required=True, help="recipe YAML (trainers/<name>.yaml) or a shipped recipe name"
    )
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. training.learning_rate=1e-4")
    p.add_argument(
        "--dry-run", action="store_true", help="print the resolved config and effective batch size"
    )
    p.add_argument("--output-root", help="folder for the stage outputs (default: the recipe's output_root)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("judge", help="pairwise win/tie/loss between two runs with an LLM judge")
    p.add_argument("--runs", nargs=2, required=True, metavar=("RUN_A", "RUN_B"))
    p.add_argument("--task", help="the generation task to judge (when a run has several)")
    p.add_argument("--rubric", required=True, help="a rubric in judges/ (iimedgpt_pf, zhongjing_spf)")
    p.add_argument("--judge-model", required=True)
    p.add_argument("--base-url", required=True, help="OpenAI-compatible server (key from OPENAI_API_KEY)")
    p.add_argument("--lang", default="zh", choices=["zh", "en"])
    p.add_argument(
        "--order", default="both", choices=["both", "random"], help="both orders, or one (half cost)"
    )
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--max-retries", type=int, default=5)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per judge request")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--output", default="runs")
    p.add_argument("--price-in", type=float, default=0.0, help="cost per 1M prompt tokens")
    p.add_argument("--price-out", type=float, default=0.0, help="cost per 1M completion tokens")
    p.set_defaults(func=cmd_judge)

    p = sub.add_parser("arena", help="judge every pair of runs and rank them (Bradley-Terry with CIs)")
    p.add_argument("--runs", nargs="+", required=True)
    p.add_argument("--task")
    p.add_argument("--rubric", required=True)
    p.add_argument("--dimension", help="the rubric dimension to rank on (default: its first)")
    p.add_argument("--judge-model", required=True)
    p.add_argument("--base-url", required=True)
    p.add_argument("--lang", default="zh", choices=["zh", "en"])
    p.add_argument("--order", default="both", choices=["both", "random"])
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--max-retries", type=int, default=5)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per judge request")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--output", default="runs")
    p.set_defaults(func=cmd_arena)

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
    p.set_defaults(func=cmd_suite)

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
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "explain", help="one task's scores under every convention, mode and prompt style in the run folders"
    )
    p.add_argument("runs", nargs="+", help="run folders (e.g. one per mode or prompt style)")
    p.add_argument("--task", required=True, help="the task (its _gen and _loglik variants are included)")
    p.set_defaults(func=cmd_explain)

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
    p.set_defaults(func=cmd_bias)

    p = sub.add_parser(
        "demo", help="train the tiny model through every stage offline and evaluate each stage"
    )
    p.add_argument("--output", default="runs")
    add_backend_arguments(p)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "train":  # key=value overrides may come after the options too
        args.overrides += [e for e in extra if "=" in e and not e.startswith("-")]
        extra = [e for e in extra if not ("=" in e and not e.startswith("-"))]
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    _quiet_libraries(args.verbose)
    try:
        return args.func(args)
    except MedbenchError as exc:
        print(f"medbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "medbench: interrupted; finished requests are cached, re-run the same command to resume",
            file=sys.stderr,
        )
        return 130
