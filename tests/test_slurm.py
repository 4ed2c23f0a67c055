"""Issue 41: ``medbench slurm`` on a real Slurm. A one-node cluster (Debian's slurmctld, slurmd and
munge) is started on this machine for the test; the array of shards and its merge run on it, one
shard is cancelled, the merge waits, ``--resume`` completes it, and the merged folder equals the
unsharded run. The scripts quote every run setting (a task name holding ``$(...)`` is text)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medbench.cli.main import main
from medbench.core.paths import SAMPLES_DIR
from medbench.run.runner import RunConfig, run

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A one-node Slurm cluster (2 CPUs, no GPU) for this module; its SLURM_CONF path."""
    absent = [d for d in DAEMONS if not shutil.which(d)]
    if absent:
        missing = ", ".join(absent)
        pytest.skip(f"Slurm is not installed ({missing} missing; .ci/run installs it with munge)")
    if os.geteuid() != 0:
        pytest.skip("the test cluster's daemons run as root (slurmd starts jobs as their user)")
    root = tmp_path_factory.mktemp("slurm")
    for sub in ("state", "spool"):
        (root / sub).mkdir()
    host = socket.gethostname()
    conf = root / "slurm.conf"
    conf.write_text(
        "\n".join(
            [
                "ClusterName=medbench-test",
                f"SlurmctldHost={host}(127.0.0.1)",
                "SlurmUser=root",
                "SlurmdUser=root",
                "AuthType=auth/munge",
                f"AuthInfo=socket={root}/munge.socket",
                "CredType=cred/munge",
                f"StateSaveLocation={root}/state",
                f"SlurmdSpoolDir={root}/spool",
                f"SlurmctldPidFile={root}/slurmctld.pid",
                f"SlurmdPidFile={root}/slurmd.pid",
                f"SlurmctldPort={_free_port()}",
                f"SlurmdPort={_free_port()}",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_Core",
                "ReturnToService=2",
                "MpiDefault=none",
                "JobCompType=jobcomp/none",
                "AccountingStorageType=accounting_storage/none",
                "JobAcctGatherType=jobacct_gather/none",
                f"SlurmctldLogFile={root}/slurmctld.log",
                f"SlurmdLogFile={root}/slurmd.log",
                f"NodeName={host} NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN",
                f"PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP",
                "",
            ]
        ),
        encoding="utf-8",
    )
    env = {**os.environ, "SLURM_CONF": str(conf)}
    key = Path("/etc/munge/munge.key")
    started = [
        [
            "munged",
            f"--socket={root}/munge.socket",
            f"--pid-file={root}/munged.pid",
            f"--log-file={root}/munged.log",
            f"--seed-file={root}/munge.seed",
            f"--key-file={key}",
            "--force",
        ],
        ["slurmctld", "-f", str(conf)],
        ["slurmd", "-f", str(conf)],
    ]
    for command in started:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            pytest.skip(f"{command[0]} did not start here: {(done.stderr or done.stdout).strip()[:200]}")
    deadline = time.time() + 60
    while time.time() < deadline:
        state = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True).stdout
        if state.strip() == "idle":
            break
        time.sleep(1)
    else:
        pytest.skip(f"the test cluster's node did not come up (sinfo: {state.strip()!r})")
    yield conf
    for name in ("slurmd", "slurmctld", "munged"):
        pid = root / f"{name}.pid"
        if pid.is_file():
            subprocess.run(["kill", pid.read_text().strip()], capture_output=True)


def _wait(conf: Path, until, seconds: float = 300) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if until():
            return
        time.sleep(2)
    queue = subprocess.run(
        ["squeue"], env={**os.environ, "SLURM_CONF": str(conf)}, capture_output=True, text=True
    )
    raise AssertionError(f"timed out; squeue:\n{queue.stdout}")


def _queue(conf: Path) -> list[tuple[str, str, str]]:
    out = subprocess.run(
        ["squeue", "-h", "-o", "%i|%T|%r"],
        env={**os.environ, "SLURM_CONF": str(conf)},
        capture_output=True,
        text=True,
    ).stdout
    return [tuple(line.split("|")) for line in out.splitlines() if line]


def test_a_cancelled_shard_holds_the_merge_and_resume_completes_it(
    cluster, tiny_model, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("SLURM_CONF", str(cluster))
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")  # medbench
    folder = tmp_path / "job"
    run_args = ["--model", tiny_model, "--tasks", "ceval_med,medqa_mcmle", "--data-dir", str(SAMPLES_DIR)]
    run_args += ["--limit", "3", "--output", str(tmp_path / "unused")]
    assert (
        main(
            [
                "slurm",
                "--shards",
                "3",
                "--cpus-per-task",
                "1",
                "--folder",
                str(folder),
                "--submit",
                "--",
                *run_args,
            ]
        )
        == 0
    )
    record = json.loads((folder / "slurm.json").read_text(encoding="utf-8"))
    (first,) = record["submitted"]
    subprocess.run(["scancel", f"{first['array']}_1"], check=True)  # shard 1 never runs
    # the other shards finish; the merge waits on a dependency that can no longer be met
    _wait(
        cluster,
        lambda: (
            [j for j in _queue(cluster) if j[0] == first["merge"]]
            and not [j for j in _queue(cluster) if j[0].startswith(f"{first['array']}_")]
        ),
    )
    (merge,) = [j for j in _queue(cluster) if j[0] == first["merge"]]
    assert merge[1] == "PENDING" and "Dependency" in merge[2], merge
    assert not (folder / "merged").exists()
    capsys.readouterr()
    assert main(["slurm", "--resume", str(folder), "--submit"]) == 0
    said = capsys.readouterr().out
    assert "shards with no complete run folder: 1" in said and "submitted: array job" in said
    _wait(cluster, lambda: not _queue(cluster))
    (merged,) = (folder / "merged").glob("2*")
    whole, _ = run(
        RunConfig(
            model=tiny_model,
            tasks=["ceval_med", "medqa_mcmle"],
            data_dir=str(SAMPLES_DIR),
            limit=3,
            output=str(tmp_path / "whole"),
        )
    )

    def scores(path: Path) -> list:
        rows = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
        return sorted((r["task"], r["metric"], r["convention"], round(r["value"], 9), r["n"]) for r in rows)

    assert scores(merged) == scores(whole.path)
    for path in (whole.path / "samples").glob("*.jsonl"):
        mine = [json.loads(x)["extracted"] for x in path.read_text(encoding="utf-8").splitlines()]
        theirs = [
            json.loads(x)["extracted"] for x in (merged / "samples" / path.name).read_text().splitlines()
        ]
        assert mine == theirs, path.name
    assert json.loads((merged / "status.json").read_text())["complete"] is True


def test_a_hostile_run_setting_is_quoted_in_the_script_never_run(tmp_path, capsys):
    """A task name with a quote and $(...) travels as text: bash reads the script's command back as
    exactly the arguments given, and the script runs nothing the value holds."""
    hostile = "ceval_med,x'$(touch " + str(tmp_path / "pwned") + ")`id`"
    assert (
        main(
            [
                "slurm",
                "--dry-run",
                "--shards",
                "2",
                "--folder",
                "/shared/runs/job",
                "--",
                "--model",
                "tiny",
                "--tasks",
                hostile,
            ]
        )
        == 0
    )
    script = capsys.readouterr().out
    line = next(x for x in script.splitlines() if x.startswith("medbench run "))
    echo = subprocess.run(
        ["bash", "-c", "set -- " + line.split(" --shard ")[0] + '; printf "%s\\n" "$@"'],
        capture_output=True,
        text=True,
    )
    assert echo.returncode == 0 and echo.stdout.splitlines() == [
        "medbench",
        "run",
        "--model",
        "tiny",
        "--tasks",
        hostile,
    ]
    assert not (tmp_path / "pwned").exists()


def test_a_folder_slurm_could_misread_is_one_line(tmp_path, capsys):
    code = main(
        [
            "slurm",
            "--dry-run",
            "--shards",
            "2",
            "--folder",
            str(tmp_path / "a b"),
            "--",
            "--model",
            "tiny",
            "--tasks",
            "ceval_med",
        ]
    )
    assert code == 2 and "use a path of letters, digits" in capsys.readouterr().err


def test_the_dry_run_is_the_example_docs_cluster_md_shows(capsys):
    args = [
        "slurm",
        "--dry-run",
        "--shards",
        "8",
        "--partition",
        "gpu",
        "--gpus-per-task",
        "1",
        "--cpus-per-task",
        "8",
    ]
    args += ["--time", "04:00:00", "--folder", "/shared/runs/my-7b", "--", "--model", "/shared/models/my-7b"]
    args += [
        "--tasks",
        "cmexam,ceval_med,cmmlu_med,medqa_mcmle",
        "--backend",
        "vllm",
        "--data-dir",
        "/shared/medbench-data",
    ]
    assert main(args) == 0
    shown = capsys.readouterr().out
    docs = (Path(__file__).parent.parent / "docs" / "cluster.md").read_text(encoding="utf-8")
    example = docs.split("<!-- dry-run: begin -->\n```bash\n", 1)[1].split("```\n<!-- dry-run: end -->", 1)[0]
    assert shown == example


def _slurm_args(folder: Path, *extra: str) -> list[str]:
    """``medbench slurm`` with two shards of a one-task run of the tiny model, into ``folder``."""
    return [
        "slurm",
        "--shards",
        "2",
        "--folder",
        str(folder),
        *extra,
        "--",
        "--model",
        "tiny",
        "--tasks",
        "ceval_med",
    ]


def _written(tmp_path, *extra: str) -> Path:
    folder = tmp_path / "job"
    assert main(_slurm_args(folder, *extra)) == 0
    return folder


def test_a_received_slurm_json_cannot_cancel_other_jobs(tmp_path, capsys):
    """Attacker finding: --resume passed slurm.json's merge id to scancel unchecked ('--user=root'
    cancelled every job of the user); a non-numeric job id, a bool or huge shard count is one line."""
    folder = _written(tmp_path)
    record = json.loads((folder / "slurm.json").read_text(encoding="utf-8"))
    for change in (
        {"submitted": [{"array": "1", "indices": [0], "merge": "--user=root"}]},
        {"submitted": ["x"]},
        {"submitted": [{"array": "1"}]},
        {"shards": True},
        {"shards": 100_000_000},
    ):
        (folder / "slurm.json").write_text(json.dumps({**record, **change}), encoding="utf-8")
        capsys.readouterr()
        assert main(["slurm", "--resume", str(folder), "--submit"]) == 2, change
        assert "slurm.json" in capsys.readouterr().err


def test_a_planted_shard_of_other_settings_is_never_merged(tmp_path, tiny_model, capsys):
    """Attacker finding: --merge took any complete run folder under shards/I; one of other settings
    (a planted system prompt) is not this job's shard."""
    folder = tmp_path / "job"
    run_args = [
        "--model",
        tiny_model,
        "--tasks",
        "medqa_mcmle",
        "--data-dir",
        str(SAMPLES_DIR),
        "--limit",
        "2",
    ]
    assert main(["slurm", "--shards", "2", "--folder", str(folder), "--", *run_args]) == 0
    for index in (0, 1):
        planted = [*run_args, "--system-prompt", "PLANTED", "--shard", f"{index}/2"]
        assert main(["run", *planted, "--output", str(folder / "shards" / str(index))]) == 0
    capsys.readouterr()
    assert main(["slurm", "--merge", str(folder)]) == 2
    assert "no complete run folder of this job's settings" in capsys.readouterr().err
    assert not (folder / "merged").exists()


@pytest.mark.parametrize(
    ("extra", "run_extra", "message"),
    [
        ([], ["--repeats", "2"], "merging runs with --repeats is not supported"),
        ([], ["--circular"], "--circular keeps a question's rotations in one run"),
        ([], ["--limit", "1"], "--limit 1 leaves 1 of the 2 shards no item"),
        (["--sbatch-arg=--array=0-9"], [], "medbench slurm sets --array itself"),
        (["--sbatch-arg=--chdir=/"], [], "medbench slurm sets --chdir itself"),
    ],
)
def test_what_could_only_fail_on_the_cluster_is_one_line_before_anything_is_written(
    tmp_path, capsys, extra, run_extra, message
):
    folder = tmp_path / "job"
    args = _slurm_args(folder, *extra)
    assert main([*args, *run_extra]) == 2
    assert message in capsys.readouterr().err and not folder.exists()
