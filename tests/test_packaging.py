"""Issue 25, packaging: every package medbench imports is declared, and the light core (``pip install .``
with no extra) reports, lists tasks and scores a served model in a venv that has no torch."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from dataclasses import asdict
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import tomllib

import medbench
from medbench.analysis.summary import Score
from medbench.core.paths import SAMPLES_DIR
from medbench.run.rundir import RunFolder
from tests.servers import ScriptedChat

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(medbench.__file__).resolve().parent


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    base = {_name(r) for r in project["dependencies"]}
    extras = {_name(r) for reqs in project["optional-dependencies"].values() for r in reqs}
    return base, extras - {"medbench"}


def _imported() -> set[str]:
    names = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "medbench"}


def test_every_imported_package_is_declared():
    base, extras = _declared()
    owners = packages_distributions()
    undeclared = {
        name: owners.get(name)
        for name in _imported()
        if not {_name(d) for d in owners.get(name, [name])} & (base | extras)
    }
    assert undeclared == {}
    assert not {"torch", "transformers", "trl", "vllm"} & base  # the light core stays light


@pytest.fixture(scope="module")
def light_venv(tmp_path_factory) -> Path:
    """``pip install .`` (no extras) into a fresh venv."""
    venv = tmp_path_factory.mktemp("light") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # --no-compile: no bytecode for every module of every dependency up front; the four commands run
    # here compile what they import (each time, where PYTHONDONTWRITEBYTECODE is set): 75 s for this
    # file instead of 95 s on 2 cores
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile"]
    proc = subprocess.run([*pip, str(ROOT)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return venv


def _medbench(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HOME": str(cwd),
    }
    return subprocess.run(
        [str(venv / "bin" / "medbench"), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600
    )


def test_the_light_core_has_no_torch_and_reports_existing_run_folders(light_venv, tmp_path):
    assert subprocess.run([str(light_venv / "bin" / "python"), "-c", "import torch"]).returncode != 0
    runs = tmp_path / "runs"
    folder = RunFolder.create(runs, "tiny")
    folder.write_json("config.json", {"model": "tiny", "tasks": ["medqa_mcmle"]})
    folder.write_json("model.json", {"weights_sha256": "t"})
    folder.write_json("status.json", {"complete": True, "n_failed": 0})
    folder.write_json("metrics.json", [asdict(Score("medqa_mcmle", "acc", 0.5, 10, 0.1, ""))])
    proc = _medbench(light_venv, "report", str(runs), "--out", str(tmp_path / "site"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert re.search(
        r"\| tiny\b.*\|\s+50 n=10\s+\|", (tmp_path / "site" / "leaderboard.md").read_text(encoding="utf-8")
    )
    assert (tmp_path / "site" / "index.html").is_file()
    listing = _medbench(light_venv, "tasks", cwd=tmp_path)
    assert listing.returncode == 0 and "medqa_mcmle" in listing.stdout


def test_the_light_core_scores_a_served_model_and_names_the_extra_a_local_one_needs(light_venv, tmp_path):
    with ScriptedChat([], reply="答案：A").serving() as url:
        proc = _medbench(
            light_venv,
            "run",
            "--backend", "openai",
            "--base-url", url,
            "--model-name", "scripted",
            "--tasks", "medqa_mcmle",
            "--data-dir", str(SAMPLES_DIR),
            "--output", str(tmp_path / "runs"),
            cwd=tmp_path,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (folder,) = [p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")]
    assert any(s["metric"] == "acc" for s in json.loads((folder / "metrics.json").read_text()))
    local = _medbench(light_venv, "run", "--model", "tiny", "--tasks", "medqa_mcmle", cwd=tmp_path)
    assert local.returncode == 2
    assert local.stderr.strip().splitlines() == [
        "medbench: error: the hf backend needs torch, transformers: pip install 'medbench[hf]' "
        "(install the torch build you want first)"
    ]
