"""Issue 25: a run setting is declared once, on ``RunConfig`` (medbench/config/run.py), and everything
else follows: its flag, its place in config.json, the leaderboard's row key when it changes results,
and its one-line validation message.

The test does what a contributor does: it adds one field to a copy of the package's source, and
nothing else, then asks the copy for the flag, the config.json, the row key and the error."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import medbench

PACKAGE = Path(medbench.__file__).parent

PROBE = r"""
import json, sys
from dataclasses import asdict
from pathlib import Path

from medbench.cli import main as cli
from medbench.cli.parser import build_parser
from medbench.config.fields import check
from medbench.config.run import RunConfig
from medbench.core.errors import MedbenchError
from medbench.report.folders import Folder
from medbench.run.rundir import RunFolder

parser = build_parser()
run = parser._subparsers._group_actions[0].choices["run"]
out = {"help": run.format_help()}
args = parser.parse_args(["run", "--model", "m", "--tasks", "cmexam", "--bedside-manner", "3"])
config = cli.run_config(args)
folder = RunFolder.create(Path(sys.argv[1]), "m")
folder.write_config(asdict(config))
written = json.loads((folder.path / "config.json").read_text())
out["config_json"] = written
out["row_key"] = [list(pair) for pair in Folder(folder.path, "run", "m", written).settings]
try:
    check(RunConfig(model="m", tasks=["cmexam"], bedside_manner=-2))
except MedbenchError as error:
    out["error"] = str(error)
print(json.dumps(out))
"""


def _with_field(tmp_path: Path, declaration: str) -> dict:
    """A copy of the package whose RunConfig gains one field (inserted before ``seed``), probed."""
    copy = tmp_path / "src"
    shutil.copytree(PACKAGE, copy / "medbench", ignore=shutil.ignore_patterns("__pycache__"))
    for kind in ("tasks", "judges", "suites", "bias", "trainers", "reports"):
        source = PACKAGE.parent / kind
        if source.is_dir() and not (copy / "medbench" / "_plugins").is_dir():
            (copy / kind).symlink_to(source)
    run_py = copy / "medbench" / "config" / "run.py"
    text = run_py.read_text(encoding="utf-8")
    anchor = "    seed: Seed = setting("
    assert anchor in text
    run_py.write_text(text.replace(anchor, declaration + anchor, 1), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_one_answer_changing_field_is_a_flag_a_config_key_a_row_key_and_a_validated_value(tmp_path):
    probe = _with_field(
        tmp_path,
        "    bedside_manner: Annotated[int, Field(ge=0)] = setting(\n"
        '        0, "how kindly to answer (0-5)", affects="answer", what="0 or more")\n',
    )
    assert "--bedside-manner" in probe["help"] and "how kindly to answer (0-5)" in probe["help"]
    assert probe["config_json"]["bedside_manner"] == 3
    assert ["bedside_manner", 3] in probe["row_key"]
    assert probe["error"] == "--bedside-manner must be 0 or more (got -2)"


def test_a_field_that_changes_no_result_splits_no_leaderboard_row(tmp_path):
    probe = _with_field(
        tmp_path,
        '    bedside_manner: Annotated[int, Field(ge=0)] = setting(0, "how kindly to log")\n',
    )
    assert "--bedside-manner" in probe["help"]
    assert probe["config_json"]["bedside_manner"] == 3
    assert "bedside_manner" not in {key for key, _ in probe["row_key"]}
    assert probe["error"].startswith("--bedside-manner: input should be greater than or equal to 0")


@pytest.mark.parametrize("kind", ["answer", "items"])
def test_the_settings_that_split_rows_are_the_fields_declared_so(kind):
    from dataclasses import fields

    from medbench.config.run import RunConfig
    from medbench.config.schemas import ANSWER_SETTINGS, ITEM_SETTINGS

    declared = {f.name for f in fields(RunConfig) if f.metadata["affects"] == kind}
    assert declared == set(ANSWER_SETTINGS if kind == "answer" else ITEM_SETTINGS)
