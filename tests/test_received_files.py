"""Every file ``report``, ``merge`` and ``judge`` read from a folder someone else wrote, replaced by
arbitrary JSON (issue 24, acceptance): never a traceback -- the command works, or says in one line
what is wrong (exit 2), or skips and lists the folder."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medbench.analysis.summary import Score
from medbench.cli.main import main
from medbench.core.paths import SAMPLES_DIR
from medbench.run.rundir import RunFolder
from tests.servers import ScriptedChat

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
FILES = [
    "config.json",
    "metrics.json",
    "status.json",
    "model.json",
    "data.json",
    "clean.json",
    "samples/huatuo26m.jsonl",
]
SAMPLE = {"doc_id": 0, "id": "0", "question": "胃痛怎么办？", "reference": "就医。", "raw": "多喝水。"}


def _folder(root: Path, name: str, shard: str | None = None) -> Path:
    folder = RunFolder.create(root, name)
    config = {"model": name, "tasks": ["huatuo26m"], "data_dir": str(SAMPLES_DIR), "shard": shard}
    folder.write_json("config.json", config)
    folder.write_json("model.json", {"weights_sha256": "w"})
    folder.write_json("status.json", {"complete": True, "n_failed": 0})
    folder.write_json("data.json", {"files_sha256": {"huatuo26m/test.jsonl": "0" * 64}})
    folder.write_json("metrics.json", [asdict(Score("huatuo26m", "bleu1", 0.1, 1, None, ""))])
    (folder.path / "samples").mkdir()
    (folder.path / "samples" / "huatuo26m.jsonl").write_text(json.dumps(SAMPLE, ensure_ascii=False) + "\n")
    return folder.path


def _plant(folder: Path, name: str, value) -> None:
    path = folder / name
    text = json.dumps(value, ensure_ascii=False)
    path.write_text(text + "\n" if name.endswith(".jsonl") else text, encoding="utf-8")


@pytest.fixture(scope="module")
def judge_url():
    with ScriptedChat([], reply="胜").serving() as url:
        yield url


def _no_traceback(code: int, capsys) -> None:
    err = capsys.readouterr().err
    assert code in (0, 2, 3) and "Traceback" not in err
    if code == 2:
        assert err.strip().splitlines()[-1].startswith("medbench: error: ")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(FILES), value=JSON)
def test_report_and_judge_read_any_json_without_a_traceback(tmp_path_factory, capsys, judge_url, name, value):
    root = tmp_path_factory.mktemp("received")
    good, bad = _folder(root / "runs", "good"), _folder(root / "runs", "bad")
    _plant(bad, name, value)
    _no_traceback(main(["report", str(root / "runs"), "--out", str(root / "site"), "--format", "md"]), capsys)
    _no_traceback(main(["report", str(bad), "--out", str(root / "site2"), "--format", "md"]), capsys)
    judge = ["judge", "--runs", str(good), str(bad), "--rubric", "iimedgpt_pf", "--judge-model", "j"]
    _no_traceback(main([*judge, "--base-url", judge_url, "--output", str(root / "j")]), capsys)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(FILES), value=JSON)
def test_merge_reads_any_json_without_a_traceback(tmp_path_factory, capsys, name, value):
    root = tmp_path_factory.mktemp("shards")
    shards = [_folder(root / f"s{i}", "m", f"{i}/2") for i in (0, 1)]
    _plant(shards[1], name, value)
    _no_traceback(main(["merge", *map(str, shards), "--output", str(root / "merged")]), capsys)
    shutil.rmtree(root)


@pytest.mark.parametrize("command", ["report", "merge"])
def test_a_received_setting_of_the_wrong_type_is_one_line_never_handed_on(tmp_path, capsys, command):
    """Issue 25: a run folder's config.json is checked against RunConfig's declared types when read
    (``"limit": "2"`` would reach lm-eval as text, or split a leaderboard row on a typo)."""
    shards = [_folder(tmp_path / f"s{i}", "m", f"{i}/2") for i in (0, 1)]
    for shard in shards:
        config = json.loads((shard / "config.json").read_text())
        (shard / "config.json").write_text(json.dumps({**config, "limit": "2"}))
    if command == "report":
        code = main(["report", str(shards[0]), "--out", str(tmp_path / "site"), "--format", "md"])
    else:
        code = main(["merge", *map(str, shards), "--output", str(tmp_path / "merged")])
    assert code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    where = shards[0] / "config.json"
    assert line == f"medbench: error: {where}: field limit: input should be a valid integer (got '2')"


def test_merge_never_loads_the_task_code_a_received_shard_points_at(tmp_path, capsys):
    """Issue 25 (attack on --include-path): a shard's config.json may name a task folder whose hooks are
    Python; merge replays the shards, so it would import that code. It refuses unless the user names
    the same folder, and nothing of the folder runs."""
    planted = tmp_path / "planted"
    planted.mkdir()
    marker = tmp_path / "ran.txt"
    (planted / "utils.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n", encoding="utf-8")
    (planted / "evil.yaml").write_text("task: evil\ncustom_dataset: !function utils.load\n", encoding="utf-8")
    shards = [_folder(tmp_path / f"s{i}", "m", f"{i}/2") for i in (0, 1)]
    for shard in shards:
        config = json.loads((shard / "config.json").read_text())
        (shard / "config.json").write_text(json.dumps({**config, "include_path": str(planted)}))
    assert main(["merge", *map(str, shards), "--output", str(tmp_path / "merged")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"medbench: error: merge: the shards ran tasks from --include-path {planted}")
    assert not marker.exists()


@pytest.mark.parametrize(
    "field, value, says",
    [
        ("value", float("nan"), "value must be a finite fraction in [0, 1], got nan"),
        ("value", float("inf"), "value must be a finite fraction in [0, 1], got inf"),
        ("value", 7.5, "value must be a finite fraction in [0, 1], got 7.5"),
        ("n", -4, "n must be a count in [0, 1,000,000,000], got -4"),
        ("n", 10**30, "n must be a count in [0, 1,000,000,000], got 1000000000000000000000000000000"),
        ("n", 0, "a value 0.1 resting on n = 0 items"),
        ("ci_low", 0.9, "the interval [0.9, 0.699] must have width and hold the value 0.1"),
        ("ci_low", 0.699, "the interval [0.699, 0.699] must have width"),
        ("value", 0.9, "the interval [0.046, 0.699] must have width and hold the value 0.9"),
        ("values", [0.1, 0.2], "value 0.1 is not the mean of its repeats' values [0.1, 0.2]"),
    ],
)
def test_a_received_score_medbench_cannot_write_is_one_line_never_a_cell(
    tmp_path, capsys, field, value, says
):
    """Issue 36: the leaderboard showed a received NaN, inf, 750 beside [4.6, 69.9] and n = -4."""
    folder = _folder(tmp_path / "runs", "m")
    score = {**asdict(Score("huatuo26m", "bleu1", 0.1, 4, None, "")), "ci_low": 0.046, "ci_high": 0.699}
    (folder / "metrics.json").write_text(json.dumps([{**score, field: value}]), encoding="utf-8")
    assert main(["report", str(folder), "--out", str(tmp_path / "site")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0] and "metrics.json: huatuo26m bleu1" in err[0]
