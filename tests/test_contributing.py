"""Issue 25: CONTRIBUTING.md's walkthroughs are run exactly as written. For each "Walkthrough:" section the
test copies the repository, writes every ``file=PATH`` block to PATH (``append=PATH`` appends), runs every
``bash`` block with ``medbench`` and ``python`` from this checkout's copy, and checks that the output of
each holds the lines of the ``expect`` block after it. ``pip install`` installs into a folder of the
copy's own (``--target``), so the test never changes the environment that runs it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import medbench
from medbench.core.paths import SAMPLES_DIR

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(medbench.__file__).resolve().parent
PLUGINS = ("tasks", "judges", "suites", "bias", "trainers", "reports")
BLOCK = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.S | re.M)


def sections() -> dict[str, str]:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    parts = re.split(r"^## Walkthrough: (.+)$", text, flags=re.M)
    return {title.strip(): body for title, body in zip(parts[1::2], parts[2::2], strict=True)}


def test_contributing_has_the_six_walkthroughs():
    assert list(sections()) == [
        "a multiple-choice benchmark",
        "an analysis",
        "a judge rubric",
        "a backend",
        "a training stage",
        "plug-ins outside medbench",
    ]


def _copy(tmp_path: Path) -> Path:
    """The package and its plug-in folders, as a contributor's checkout would hold them."""
    repo = tmp_path / "repo"
    shutil.copytree(PACKAGE, repo / "medbench", ignore=shutil.ignore_patterns("__pycache__", "_plugins"))
    for kind in PLUGINS:
        installed = PACKAGE / "_plugins" / kind
        shutil.copytree(installed if installed.is_dir() else ROOT / kind, repo / kind)
    return repo


def _shims(bin_dir: Path, site: Path) -> None:
    bin_dir.mkdir()
    python = sys.executable
    for name, command in (
        ("medbench", f'exec {python} -m medbench "$@"'),
        ("python", f'exec {python} "$@"'),
        (
            "pip",
            f'shift; exec {python} -m pip install -q --no-deps --no-build-isolation --target {site} "$@"',
        ),
    ):
        (bin_dir / name).write_text(f"#!/bin/sh\n{command}\n", encoding="utf-8")
        (bin_dir / name).chmod(0o755)


@pytest.mark.parametrize("title", list(sections()))
def test_a_walkthrough_works_as_written(title, tmp_path, tiny_model):
    repo = _copy(tmp_path)
    work, data, site = tmp_path / "work", tmp_path / "data", tmp_path / "site-packages"
    for folder in (work, data, site):
        folder.mkdir()
    _shims(tmp_path / "bin", site)
    places = {"$DATA": str(data), "$WORK": str(work), "$SAMPLES": str(SAMPLES_DIR)}
    env = {
        **os.environ,
        "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
        "PYTHONPATH": f"{site}{os.pathsep}{repo}",
        "COLUMNS": "200",
        **{k[1:]: v for k, v in places.items()},
    }
    last_output = None
    ran = 0
    for lang, info, body in BLOCK.findall(sections()[title]):
        target = re.search(r"(file|append)=(\S+)", info)
        if target:
            path = target.group(2)
            for name, value in places.items():
                path = path.replace(name, value)
            path = Path(path) if Path(path).is_absolute() else repo / path
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a" if target.group(1) == "append" else "w", encoding="utf-8") as handle:
                handle.write(("\n" if target.group(1) == "append" else "") + body)
        elif lang == "bash":
            proc = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", body],
                capture_output=True,
                text=True,
                cwd=work,
                env=env,
                timeout=900,
            )
            assert proc.returncode == 0, f"{body}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            last_output = proc.stdout
            ran += 1
        elif lang == "text" and "expect" in info:
            assert last_output is not None, "an expect block with no command before it"
            for line in filter(None, (x.strip() for x in body.splitlines())):
                assert line in last_output, (
                    f"{line!r} not in the output of the command before it:\n{last_output}"
                )
    assert ran, "a walkthrough with no command to run"
