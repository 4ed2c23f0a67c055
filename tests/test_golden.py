"""Golden outputs: a fixed set of commands on the tiny model reproduces committed files exactly.

The commands cover every kind of folder another command reads: multiple choice by log-likelihood and
by generation, NER, open generation, a bias scale, an LLM judge (a scripted judge server) and a
report over all of them. Each folder's files that carry results (per-sample outputs, metrics, tables,
summaries) are compared with ``tests/golden/<case>.json`` after normalisation: timestamps, versions,
timings and machine paths are removed (and the Markdown table padding their lengths cause), and
floats are rounded to 6 decimals and compared to within 1e-5 (CPU kernels differ in the last bits of a
log-likelihood from one processor to another, and a value near a rounding boundary rounds either way).
Refactors must leave these files unchanged.

Regenerate (only when a change of behaviour is intended, and say so in the commit):
``MEDBENCH_UPDATE_GOLDEN=1 pytest tests/test_golden.py``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from medbench.cli.main import main
from medbench.core.paths import SAMPLES_DIR
from tests.servers import ScriptedChat

GOLDEN = Path(__file__).parent / "golden"
FIXTURES = Path(__file__).parent / "fixtures"
UPDATE = os.environ.get("MEDBENCH_UPDATE_GOLDEN") == "1"

#: files that hold results, per folder; everything else is provenance (times, versions, paths)
RESULT_FILES = (
    "metrics.json",
    "status.json",
    "results.md",
    "summary.json",
    "verdicts.jsonl",
    "items.jsonl",
    "requests.jsonl",
    "leaderboard.md",
    "leaderboard.csv",
)
#: keys whose values depend on the machine or the moment, dropped wherever they appear
VOLATILE = {"seconds", "created", "date", "duration", "path", "folder", "run", "runs"}


def _round(value):
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_round(v) for v in value]
    return value


def _text(text: str, roots: dict[str, str]) -> str:
    for root, name in roots.items():
        text = text.replace(root, name)
    return re.sub(r"\d{8}-\d{6}", "<stamp>", text)


def _data_json(path: Path, roots: dict[str, str]) -> dict:
    data = json.loads(_text(path.read_text(encoding="utf-8"), roots))
    return _round(data)


def snapshot(folder: Path, roots: dict[str, str]) -> dict:
    """The result-bearing files of one folder, normalised, keyed by their path inside it."""
    out: dict = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if not path.is_file() or not (path.name in RESULT_FILES or rel.startswith(("samples/", "tables/"))):
            continue
        text = _text(path.read_text(encoding="utf-8"), roots)
        if path.suffix == ".json":
            out[rel] = _round(json.loads(text))
        elif path.suffix == ".jsonl":
            out[rel] = [_round(json.loads(line)) for line in text.splitlines()]
        else:  # pandas pads table cells to the longest value: a machine path's length, so one space
            out[rel] = re.sub(r"-{3,}", "---", re.sub(r" {2,}", " ", text))
    if (folder / "data.json").is_file():
        out["data.json"] = _data_json(folder / "data.json", roots)
    return out


def _only_folder(root: Path) -> Path:
    (folder,) = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return folder


def _judge_reply(prompt: str) -> str:
    """A deterministic judge: prefers the longer first answer, ties on equal lengths."""
    match = re.search(r"回答1：(.*?) 回答2：(.*?) 评价标准", prompt, re.S)
    a, b = (len(match.group(1)), len(match.group(2))) if match else (0, 0)
    return "胜" if a > b else "负" if a < b else "平"


@pytest.fixture(scope="module")
def outputs(tiny_model, tmp_path_factory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("golden")
    roots = {
        str(root): "<out>",
        str(Path(tiny_model).parent): "<models>",
        str(SAMPLES_DIR): "<samples>",
        str(FIXTURES): "<fixtures>",
    }
    samples = ["--data-dir", str(SAMPLES_DIR), "--limit", "3"]
    cases: dict[str, list[str]] = {
        "mc_loglik_and_cmexam": ["--tasks", "ceval_med,cmexam", *samples],
        "mc_gen": ["--tasks", "medqa_mcmle", "--mode", "gen", *samples],
        "ner": ["--tasks", "chimst_ner", "--data-dir", str(FIXTURES)],
        "generation": ["--tasks", "huatuo26m", *samples],
    }
    snaps = {}
    for case, args in cases.items():
        out = root / case
        code = main(["run", "--model", tiny_model, *args, "--max-new-tokens", "8", "--output", str(out)])
        assert code == 0, case
        snaps[case] = snapshot(_only_folder(out), roots)
    bias = root / "bias"
    assert (
        main(["bias", "--scale", "cami", "--model", tiny_model, "--mode", "loglik", "--output", str(bias)])
        == 0
    )
    snaps["bias_cami_loglik"] = snapshot(_only_folder(bias), roots)

    other = root / "generation_sampled"
    args = ["--tasks", "huatuo26m", "--data-dir", str(SAMPLES_DIR), "--limit", "3", "--temperature", "1.0"]
    assert main(["run", "--model", tiny_model, *args, "--max-new-tokens", "8", "--output", str(other)]) == 0
    judge = root / "judge"
    with ScriptedChat([], reply=_judge_reply).serving() as url:
        runs = [str(_only_folder(root / "generation")), str(_only_folder(other))]
        judge_args = ["--rubric", "iimedgpt_pf", "--judge-model", "scripted", "--base-url", url]
        assert main(["judge", "--runs", *runs, *judge_args, "--output", str(judge)]) == 0
    roots[url] = "<judge-url>"
    snaps["judge_scripted"] = snapshot(_only_folder(judge), roots)

    site = root / "site"
    folders = [str(root / c) for c in (*cases, "bias")]
    assert main(["report", *folders, "--out", str(site), "--format", "md", "--no-published"]) == 0
    snaps["report"] = snapshot(site, roots)
    return snaps


CASES = [
    "mc_loglik_and_cmexam",
    "mc_gen",
    "ner",
    "generation",
    "bias_cami_loglik",
    "judge_scripted",
    "report",
]


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_outputs_equal_the_golden_files(outputs, case):
    golden = GOLDEN / f"{case}.json"
    text = json.dumps(outputs[case], ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"no golden file {golden.name}: run with MEDBENCH_UPDATE_GOLDEN=1 once"
    expected = json.loads(golden.read_text(encoding="utf-8"))
    got = json.loads(text)
    assert sorted(got) == sorted(expected), "the folder's result files differ"
    for name in expected:
        assert _close(got[name], expected[name]), f"{case}: {name} differs from tests/golden/{case}.json"


def _close(got, expected) -> bool:
    """Equal, floats to within 1e-5 (the kernels' last bits); every other value exactly."""
    if isinstance(got, float) or isinstance(expected, float):
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (got, expected))
        return numbers and abs(got - expected) <= 1e-5
    if isinstance(got, dict) and isinstance(expected, dict):
        return got.keys() == expected.keys() and all(_close(got[k], expected[k]) for k in got)
    if isinstance(got, list) and isinstance(expected, list):
        return len(got) == len(expected) and all(_close(a, b) for a, b in zip(got, expected, strict=True))
    return got == expected
