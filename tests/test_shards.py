"""Shards: `--shard I/N` runs a deterministic part of every task; `medbench merge` of all N parts
writes the unsharded run's folder -- per-sample outputs byte for byte, metrics exactly (group micro
and macro means, corpus BLEU/ROUGE and NER F1 recomputed over all items, never averaged)."""

import json
from pathlib import Path

import pytest

from medbench.cli.main import main
from medbench.core.paths import SAMPLES_DIR

FIXTURES = Path(__file__).parent / "fixtures"
# batch size 1: a log-likelihood then never depends on which other requests shared its batch
CASES = {
    "mc_group_and_generation": [
        "--tasks",
        "ceval_med,huatuo26m",
        "--data-dir",
        str(SAMPLES_DIR),
        "--limit",
        "5",
    ],
    "ner": ["--tasks", "chimst_ner", "--data-dir", str(FIXTURES)],
}


def _folder(root: Path) -> Path:
    (folder,) = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return folder


def _samples(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "samples").glob("*.jsonl"))}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_merged_shards_equal_the_unsharded_run(case, tiny_model, tmp_path):
    common = ["run", "--model", tiny_model, *CASES[case], "--max-new-tokens", "8", "--batch-size", "1"]
    assert main([*common, "--output", str(tmp_path / "whole")]) == 0
    for index in (0, 1):
        assert main([*common, "--shard", f"{index}/2", "--output", str(tmp_path / f"shard{index}")]) == 0
    shards = [str(_folder(tmp_path / f"shard{i}")) for i in (1, 0)]  # any order
    assert main(["merge", *shards, "--output", str(tmp_path / "merged")]) == 0

    whole, merged = _folder(tmp_path / "whole"), _folder(tmp_path / "merged")
    parts = [_samples(_folder(tmp_path / f"shard{i}")) for i in (0, 1)]
    assert all(parts) and all(len(part[name]) < len(_samples(whole)[name]) for part in parts for name in part)
    assert _samples(merged) == _samples(whole)
    metrics = [json.loads((f / "metrics.json").read_text()) for f in (whole, merged)]
    assert metrics[0] == metrics[1]
    assert any(m["convention"].startswith("macro") for m in metrics[0]) or case == "ner"
    config = {k: v for k, v in json.loads((merged / "config.json").read_text()).items() if k != "output"}
    assert config == {
        k: v for k, v in json.loads((whole / "config.json").read_text()).items() if k != "output"
    }


def test_merge_refuses_a_missing_shard_or_a_different_run(tiny_model, tmp_path, capsys):
    common = ["run", "--model", tiny_model, "--tasks", "medqa_mcmle", "--data-dir", str(SAMPLES_DIR)]
    assert main([*common, "--limit", "4", "--shard", "0/2", "--output", str(tmp_path / "a")]) == 0
    assert main([*common, "--limit", "3", "--shard", "1/2", "--output", str(tmp_path / "b")]) == 0
    a, b = str(_folder(tmp_path / "a")), str(_folder(tmp_path / "b"))
    assert main(["merge", a, "--output", str(tmp_path / "m")]) == 2
    assert "need shards 0..1 once each; got [0] (missing [1])" in capsys.readouterr().err
    assert main(["merge", a, b, "--output", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "differs from" in err and err.rstrip().endswith("in limit")


@pytest.mark.parametrize("shard", ["2/2", "1", "a/b", "3/2", "0/0"])
def test_a_bad_shard_is_one_line(shard, capsys):
    args = ["run", "--model", "tiny", "--tasks", "cmexam", "--shard", shard]
    assert main(args) == 2
    assert f"--shard {shard}: expected I/N with 0 <= I < N" in capsys.readouterr().err
