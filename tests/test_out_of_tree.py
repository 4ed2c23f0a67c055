"""Issue 25: plug-ins outside the package. A separately installed distribution declares a backend and a
judge rubric through entry points (``medbench.backends``, ``medbench.judges``), a folder of task YAMLs
comes in with ``--include-path`` (as ``lm_eval --include_path``), and ``medbench run`` uses all of it
with no fork of medbench. A backend option named like a run flag, or an included task that shadows one
of medbench's, is one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PYPROJECT = """
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "medbench-extra"
version = "0.1"

[project.entry-points."medbench.backends"]
traced-hf = "medbench_extra.backend:BACKEND"

[project.entry-points."medbench.judges"]
extra = "medbench_extra.rubrics"

[tool.hatch.build.targets.wheel]
packages = ["medbench_extra"]
"""

BACKEND = """
from dataclasses import dataclass
from pathlib import Path

from medbench.backends.base import option
from medbench.backends.hf import HFConfig


@dataclass
class TracedHF(HFConfig):
    name = "traced-hf"
    summary = "hf, leaving a marker file when it makes its model"

    {option}: str | None = option(None, "a file written when the model is made")

    def make_lm(self, model, seed):
        if self.{option}:
            Path(self.{option}).write_text("made", encoding="utf-8")
        return super().make_lm(model, seed)


BACKEND = TracedHF
"""

TASK = """
task: extra_mini_mc
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{question}}}}\\n答案："
doc_to_choice: ["A", "B", "C", "D"]
doc_to_target: "{{{{answer}}}}"
metric_list:
  - metric: acc
"""


def _install(tmp_path: Path, option: str = "marker") -> Path:
    """The distribution, built and installed with pip into a folder of its own."""
    source = tmp_path / "medbench-extra"
    package = source / "medbench_extra"
    (package / "rubrics").mkdir(parents=True)
    (source / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "backend.py").write_text(BACKEND.format(option=option), encoding="utf-8")
    (package / "rubrics" / "__init__.py").write_text("", encoding="utf-8")
    rubric = (Path(__file__).parent.parent / "judges" / "iimedgpt_pf.yaml").read_text(encoding="utf-8")
    (package / "rubrics" / "extra_pf.yaml").write_text(
        rubric.replace("rubric: iimedgpt_pf", "rubric: extra_pf"), encoding="utf-8"
    )
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return target


def _tasks(tmp_path: Path, name: str = "extra_mini_mc") -> Path:
    folder = tmp_path / "my_tasks"
    folder.mkdir()
    data = tmp_path / "items.jsonl"
    items = [{"question": f"第{i}题：哪一项正确？A.甲 B.乙 C.丙 D.丁", "answer": i % 4} for i in range(4)]
    data.write_text("\n".join(json.dumps(i, ensure_ascii=False) for i in items), encoding="utf-8")
    (folder / f"{name}.yaml").write_text(
        TASK.format(data=data).replace("extra_mini_mc", name), encoding="utf-8"
    )
    return folder


def _medbench(site: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "medbench", *args], capture_output=True, text=True, env=env, timeout=600
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return _install(tmp_path_factory.mktemp("extra"))


def test_an_installed_backend_and_an_included_benchmark_run_end_to_end(site, tiny_model, tmp_path):
    tasks = _tasks(tmp_path)
    listing = _medbench(site, "tasks", "--include-path", str(tasks))
    assert listing.returncode == 0, listing.stderr
    assert "extra_mini_mc" in listing.stdout
    marker = tmp_path / "made.txt"
    out = tmp_path / "runs"
    proc = _medbench(
        site,
        "run",
        "--backend", "traced-hf",
        "--marker", str(marker),
        "--model", tiny_model,
        "--tasks", "extra_mini_mc",
        "--include-path", str(tasks),
        "--output", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert marker.read_text() == "made"  # the plug-in's own code made the model
    (folder,) = [p for p in out.iterdir() if not p.name.startswith(".")]
    config = json.loads((folder / "config.json").read_text())
    assert config["backend"] == "traced-hf" and config["include_path"] == str(tasks)
    (score,) = [s for s in json.loads((folder / "metrics.json").read_text()) if s["metric"] == "acc"]
    assert score["task"] == "extra_mini_mc" and score["n"] == 4


def test_an_installed_rubric_is_found_beside_the_shipped_ones(site):
    probe = "from medbench.judge.rubric import load_rubric; print(load_rubric('extra_pf')['rubric'])"
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "extra_pf"


def test_an_included_task_named_like_one_of_medbench_s_is_one_line(site, tmp_path):
    tasks = _tasks(tmp_path, name="medqa_mcmle")
    proc = _medbench(site, "run", "--model", "tiny", "--tasks", "medqa_mcmle", "--include-path", str(tasks))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"medbench: error: --include-path {tasks}: task name(s) medqa_mcmle are medbench's own; rename them "
        "(e.g. a prefix)"
    ]


def test_a_backend_option_named_like_a_run_flag_is_one_line_not_an_argparse_traceback(tmp_path):
    site = _install(tmp_path, option="temperature")
    proc = _medbench(site, "tasks")
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert (
        "backend traced-hf (medbench_extra.backend): option temperature has the name of a run flag"
        in lines[0]
    )


def test_an_installed_plug_in_that_does_not_load_is_one_line(tmp_path):
    site = _install(tmp_path)
    (site / "medbench_extra" / "backend.py").write_text("import not_a_module_anywhere\n", encoding="utf-8")
    proc = _medbench(site, "tasks")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line == (
        "medbench: error: plug-in traced-hf (medbench.backends = medbench_extra.backend:BACKEND) does not "
        "load: ModuleNotFoundError: No module named 'not_a_module_anywhere'"
    )
