"""``medbench slurm``: a run as a Slurm array of shards and the merge that waits for it.

medbench schedules nothing itself: it writes the two batch scripts a user would otherwise type --
an array whose task I runs ``medbench run ... --shard I/N`` and a merge job that starts only when
every array task succeeded (``--dependency=afterok``) -- and hands them to ``sbatch``. The run's
settings travel as the run's own arguments, each quoted for the shell (a task name holding a quote or
``$(...)`` is text, never executed), so every ``medbench run`` setting is carried without a list of
flags here. The folder holds the scripts, ``slurm.json`` (what was asked and every job submitted),
``logs/`` and ``shards/<I>/`` (shard I's run folders); ``merged/`` receives the merged run folder.

A shard that fails leaves the merge pending (its dependency can no longer be met) and says, in its
log, how to go on: ``medbench slurm --resume FOLDER --submit`` resubmits only the shards with no
complete run folder, cancels the merge left waiting and submits a new one.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from medbench.config.record import RunRecord
from medbench.core.errors import MedbenchError
from medbench.core.writing import make_folder, write_text

ARRAY, MERGE, RECORD = "eval.sbatch", "merge.sbatch", "slurm.json"
#: sbatch options medbench writes itself, or that would move the job's relative paths
OWN_OPTIONS = ("--array", "--output", "--error", "--dependency", "--wrap", "--chdir", "--job-name")
MAX_SHARDS = 10_000
_JOB_ID = re.compile(r"^[0-9]+$")
#: what an #SBATCH value may hold: sbatch reads these lines itself, with no shell to quote for
_DIRECTIVE = re.compile(r"^[A-Za-z0-9._:,=@/+%-]+$")


@dataclass
class SlurmJob:
    """What ``medbench slurm`` was asked: N shards of the run its arguments describe, and the
    scheduler's options."""

    shards: int
    run_args: list[str]
    partition: str | None = None
    account: str | None = None
    time: str | None = None
    gpus_per_task: int | None = None
    cpus_per_task: int | None = None
    sbatch_args: list[str] = field(default_factory=list)
    submitted: list[dict] = field(default_factory=list)  # {"array": id, "indices": [...], "merge": id}

    def directives(self) -> list[str]:
        """The scheduler options as ``#SBATCH`` lines; a value sbatch could misread is one line."""
        named = {
            "partition": self.partition,
            "account": self.account,
            "time": self.time,
            "gpus-per-task": self.gpus_per_task,
            "cpus-per-task": self.cpus_per_task,
        }
        lines = []
        for name, value in named.items():
            if value is None:
                continue
            if not _DIRECTIVE.match(str(value)):
                raise MedbenchError(
                    f"--{name} {value!r}: not a value Slurm takes (letters, digits, .:,=@/+%-)"
                )
            lines.append(f"#SBATCH --{name}={value}")
        return lines

    def extra(self) -> list[str]:
        """The user's own sbatch options (the array's only): one option each, none of those medbench
        sets itself or that would move the job's paths."""
        lines = []
        for extra in self.sbatch_args:
            name = extra.split("=", 1)[0]
            if not extra.startswith("--") or "\n" in extra or "\r" in extra:
                raise MedbenchError(f"--sbatch-arg {extra!r}: expected one sbatch option, e.g. --qos=high")
            if name in OWN_OPTIONS:
                raise MedbenchError(f"--sbatch-arg {extra!r}: medbench slurm sets {name} itself")
            lines.append(f"#SBATCH {extra}")
        return lines


def _q(path: Path | str) -> str:
    return shlex.quote(str(path))


#: a job folder's path: it is written into #SBATCH lines and the scripts' own words, so it holds no
#: space, quote or shell character
_FOLDER = re.compile(r"^[A-Za-z0-9._/+@:,=-]+$")


def check_folder(folder: Path) -> Path:
    if not _FOLDER.match(str(folder)):
        raise MedbenchError(
            f"medbench slurm: folder {str(folder)!r}: use a path of letters, digits and ._/+@:,=- only "
            "(Slurm reads it in #SBATCH lines, where nothing can be quoted)"
        )
    return folder


def array_script(job: SlurmJob, folder: Path) -> str:
    """The array: task I runs shard I of N into ``shards/I``; on failure its log says how to resume."""
    check_folder(folder)
    run = " ".join(shlex.quote(a) for a in ["medbench", "run", *job.run_args])
    resume = f"medbench slurm --resume {_q(folder)} --submit"
    return "\n".join(
        [
            "#!/bin/bash",
            "#SBATCH --job-name=medbench",
            f"#SBATCH --array=0-{job.shards - 1}",
            f"#SBATCH --output={folder}/logs/%A_%a.out",
            *job.directives(),
            *job.extra(),
            "set -uo pipefail",
            "export HF_HUB_OFFLINE=1  # data and model fetched beforehand (docs/cluster.md)",
            'shard="${SLURM_ARRAY_TASK_ID}"',
            f'{run} --shard "${{shard}}/{job.shards}" --output {_q(folder / "shards")}/"${{shard}}"',
            "code=$?",
            'if [ "$code" -ne 0 ]; then',
            f'  echo "medbench: shard ${{shard}} of {job.shards} did not finish (exit $code):'
            f' the merge waits; once the cause is fixed, {resume}" >&2',
            "fi",
            'exit "$code"',
            "",
        ]
    )


def merge_script(job: SlurmJob, folder: Path) -> str:
    """The merge: every shard's newest complete run folder into ``merged/``."""
    check_folder(folder)
    return "\n".join(
        [
            "#!/bin/bash",
            "#SBATCH --job-name=medbench-merge",
            f"#SBATCH --output={folder}/logs/merge_%j.out",
            *(d for d in job.directives() if not d.startswith(("#SBATCH --gpus", "#SBATCH --time"))),
            "set -euo pipefail",
            f"exec medbench slurm --merge {_q(folder)}",
            "",
        ]
    )


def write(job: SlurmJob, folder: Path) -> None:
    """The scripts and ``slurm.json`` in ``folder`` (made here), with ``logs/`` and ``shards/``; a
    value the scripts cannot hold is one line before anything is made."""
    scripts = {ARRAY: array_script(job, folder), MERGE: merge_script(job, folder)}
    make_folder(folder, "the Slurm job's folder")
    for sub in ("logs", "shards"):
        make_folder(folder / sub, "the Slurm job's folder")
    for name, text in scripts.items():
        write_text(folder / name, text)
    write_text(folder / RECORD, json.dumps(asdict(job), ensure_ascii=False, indent=1))


def read(folder: Path) -> SlurmJob:
    """``slurm.json`` of a folder ``medbench slurm`` wrote, checked like any received file."""
    path = folder / RECORD
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        job = SlurmJob(**data)
    except FileNotFoundError:
        raise MedbenchError(f"{folder}: not a folder medbench slurm wrote (no {RECORD})") from None
    except (OSError, ValueError, TypeError) as exc:
        raise MedbenchError(f"{path}: not the record medbench slurm writes ({exc})") from None
    if (
        isinstance(job.shards, bool)
        or not isinstance(job.shards, int)
        or not 1 <= job.shards <= MAX_SHARDS
        or not isinstance(job.run_args, list)
        or not all(isinstance(a, str) for a in job.run_args)
    ):
        raise MedbenchError(f"{path}: expected shards 1..{MAX_SHARDS} and the run's arguments as text")
    for entry in job.submitted if isinstance(job.submitted, list) else [None]:
        ids = [entry.get("array"), entry.get("merge")] if isinstance(entry, dict) else [None]
        if not all(isinstance(i, str) and _JOB_ID.match(i) for i in ids):
            raise MedbenchError(
                f"{path}: 'submitted' holds {entry!r}; expected {{array, indices, merge}} job ids"
            )
    return job


def _sbatch(*args: str) -> str:
    try:
        done = subprocess.run(["sbatch", "--parsable", *args], capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise MedbenchError(
            "sbatch not found: run this on a Slurm login node (or without --submit)"
        ) from None
    if done.returncode != 0:
        raise MedbenchError(f"sbatch refused the job: {(done.stderr or done.stdout).strip()[:300]}")
    return done.stdout.strip().split(";")[0]


def submit(job: SlurmJob, folder: Path, indices: list[int] | None = None) -> dict:
    """The array (``indices`` only, when given) and its merge; recorded in ``slurm.json``."""
    chosen = ["--array=" + ",".join(map(str, indices))] if indices is not None else []
    array = _sbatch(*chosen, str(folder / ARRAY))
    merge = _sbatch(f"--dependency=afterok:{array}", str(folder / MERGE))
    entry = {
        "array": array,
        "indices": indices if indices is not None else list(range(job.shards)),
        "merge": merge,
    }
    job.submitted.append(entry)
    write_text(folder / RECORD, json.dumps(asdict(job), ensure_ascii=False, indent=1))
    return entry


#: a run folder's name: the time it was made, then the model
_RUN_FOLDER = re.compile(r"^\d{8}-\d{6}-")


def finished(folder: Path, job: SlurmJob, expected: dict | None = None) -> dict[int, Path]:
    """Shard index -> its newest complete run folder (a shard re-run after a failure has two) that is
    shard I of N of the run ``slurm.json`` describes (``expected``: the settings its arguments give);
    a folder of other settings planted there is not taken."""
    out = {}
    for index in range(job.shards):
        runs = sorted(p.parent for p in (folder / "shards" / str(index)).glob("*/config.json"))
        for run in reversed([r for r in runs if _RUN_FOLDER.match(r.name)]):
            try:
                record = RunRecord.open(run)
                complete, config = record.status().complete, record.config()
            except MedbenchError:
                continue
            if complete and config.get("shard") == f"{index}/{job.shards}" and _same(config, expected):
                out[index] = run
                break
    return out


def _same(config: dict, expected: dict | None) -> bool:
    """Whether a shard's settings are the run's (every setting but where it went and which shard)."""
    if expected is None:
        return True
    # where it went, which shard, and what planning resolves (tasks, backend options, --chat for a chat API)
    ignored = ("shard", "output", "schema_version", "resolved_tasks", "backend_options", "chat")
    return all(config.get(k) == v for k, v in expected.items() if k not in ignored)


def missing(folder: Path, job: SlurmJob, expected: dict | None = None) -> list[int]:
    done = finished(folder, job, expected)
    return [i for i in range(job.shards) if i not in done]


def resume(folder: Path, expected: dict | None = None) -> tuple[SlurmJob, list[int]]:
    """What a resume resubmits: the shards with no complete run folder; the merges left waiting on
    an array that failed are cancelled first (job ids as slurm.json records them, checked digits)."""
    job = read(folder)
    todo = missing(folder, job, expected)
    for entry in job.submitted:
        subprocess.run(["scancel", str(entry["merge"])], capture_output=True, timeout=60)
    return job, todo
