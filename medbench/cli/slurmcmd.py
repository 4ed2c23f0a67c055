"""``medbench slurm``: write, submit, resume and merge a Slurm array of shards (:mod:`medbench.run.slurm`).

The run's own arguments come after ``--``; they are checked here by the ``run`` command's parser and
config (a bad flag or value is one line before anything is written), then carried into the array
script verbatim, each quoted for the shell.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from medbench.core.errors import MedbenchError
from medbench.run import slurm as jobs

#: run arguments the array sets itself
OWN = ("--shard", "--output")


def _run_namespace(run_args: list[str]) -> argparse.Namespace:
    """The run's arguments as ``medbench run`` reads them; one line for anything it would refuse."""
    from medbench.cli.parser import build_parser

    for arg in run_args:
        if arg.split("=", 1)[0] == "--shard":
            raise MedbenchError(
                "medbench slurm: --shard is the array's (--shards N); leave it out of the run"
            )
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            raise MedbenchError(f"medbench slurm: run argument {arg!r} is not UTF-8 text") from None
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(["run", *run_args])
    except SystemExit:
        raise MedbenchError(
            f"medbench slurm: medbench run refuses these arguments: {' '.join(run_args)}"
        ) from None
    if extra:
        raise MedbenchError(f"medbench slurm: unrecognized run arguments: {' '.join(extra)}")
    return args


def _expected(run_args: list[str]) -> dict:
    """The settings each shard's run folder must hold: what the arguments give, checked as the run
    will check them."""
    from dataclasses import asdict

    from medbench.cli.common import run_config

    return asdict(run_config(_run_namespace(run_args)))


def _mergeable(config: dict, shards: int) -> None:
    """What would spend the cluster's time and then fail: one line each, before anything is written."""
    if not 1 <= shards <= jobs.MAX_SHARDS:
        raise MedbenchError(f"medbench slurm: --shards must be 1..{jobs.MAX_SHARDS}")
    if config.get("repeats", 1) != 1:
        raise MedbenchError(
            "medbench slurm: merging runs with --repeats is not supported; leave --repeats out"
        )
    if config.get("circular"):
        raise MedbenchError(
            "medbench slurm: --circular keeps a question's rotations in one run; it cannot be sharded"
        )
    limit = config.get("limit")
    if limit is not None and shards > limit:
        raise MedbenchError(
            f"medbench slurm: --limit {limit} leaves {shards - limit} of the {shards} shards no item"
        )


def _without_output(run_args: list[str]) -> list[str]:
    out, skip = [], False
    for arg in run_args:
        if skip:
            skip = False
            continue
        if arg == "--output":
            skip = True
            continue
        if not arg.startswith("--output="):
            out.append(arg)
    return out


def _report(folder: Path, entry: dict) -> None:
    print(f"submitted: array job {entry['array']} (shards {entry['indices']}), merge job {entry['merge']}")
    print(f"progress: squeue --jobs {entry['array']},{entry['merge']}    logs: {folder / 'logs'}")
    print(f"merged run folder, when done: {folder / 'merged'}")


def slurm(args: argparse.Namespace) -> int:
    if args.merge:
        return _merge(Path(args.merge))
    if args.resume:
        return _resume(Path(args.resume), args.submit)
    run_args = args.run_args[1:] if args.run_args[:1] == ["--"] else args.run_args
    if not args.shards or args.shards < 1 or not run_args:
        raise MedbenchError(
            "medbench slurm: give --shards N (N >= 1) and, after --, the medbench run arguments"
        )
    run = _run_namespace(run_args)
    _mergeable(_expected(run_args), args.shards)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = Path(args.folder or Path(run.output) / f"slurm-{stamp}").expanduser().absolute()
    job = jobs.SlurmJob(
        args.shards,
        _without_output(run_args),
        args.partition,
        args.account,
        args.time,
        args.gpus_per_task,
        args.cpus_per_task,
        args.sbatch_arg,
    )
    if args.dry_run:
        print(f"# {folder / jobs.ARRAY}\n{jobs.array_script(job, folder)}")
        print(f"# {folder / jobs.MERGE}\n{jobs.merge_script(job, folder)}", end="")
        return 0
    if folder.exists() and any(folder.iterdir()):
        raise MedbenchError(f"medbench slurm: {folder} is not empty; name a new --folder")
    jobs.write(job, folder)
    print(f"scripts: {folder / jobs.ARRAY}, {folder / jobs.MERGE}")
    if not args.submit:
        print(f"submit them with: medbench slurm --resume {folder} --submit")
        return 0
    _report(folder, jobs.submit(job, folder))
    return 0


def _resume(folder: Path, submit: bool) -> int:
    job = jobs.read(folder)
    expected = _expected(job.run_args)
    todo = jobs.missing(folder, job, expected)
    if not todo:
        print(f"every one of the {job.shards} shards is complete; merging")
        return _merge(folder)
    print(f"shards with no complete run folder: {', '.join(map(str, todo))}")
    if not submit:
        print(f"resubmit them with: medbench slurm --resume {folder} --submit")
        return 0
    job, todo = jobs.resume(folder, expected)
    _report(folder, jobs.submit(job, folder, todo))
    return 0


def _merge(folder: Path) -> int:
    from medbench.cli.common import print_result
    from medbench.run.merge import merge

    job = jobs.read(folder)
    done = jobs.finished(folder, job, _expected(job.run_args))
    todo = [i for i in range(job.shards) if i not in done]
    if todo:
        raise MedbenchError(
            f"medbench slurm: shard(s) {', '.join(map(str, todo))} have no complete run folder of this "
            f"job's settings; medbench slurm --resume {folder} --submit"
        )
    include = _run_namespace(job.run_args).include_path
    merged = merge([str(done[i]) for i in range(job.shards)], str(folder / "merged"), include)[0]
    print_result(merged, "merged run folder")
    sys.stdout.flush()
    return 0
