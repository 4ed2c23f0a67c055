"""``merge`` and the LLM extractor, attacked (issue 24, cases 4-5 and the merge tracebacks): a merge
reuses the shards' extractor readings and refuses shards that read other data or were edited; an
extractor that fails is failed items (left out, counted, exit 3), never unparsed replies; every
malformed shard file is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medbench.cli.main import main
from medbench.core.paths import SAMPLES_DIR
from tests.helpers import write_ceval_subject
from tests.servers import ScriptedChat

LOOSE = {0: "我觉得第一个最合适", 1: "答案：B", 2: "都不太对", 3: "选第四个"}
READINGS = {"我觉得第一个最合适": "A", "都不太对": "无", "选第四个": "D"}


def _model(prompt: str) -> str:
    return next(reply for k, reply in LOOSE.items() if f"val问题{k}：" in prompt)


def _extractor(prompt: str) -> str:
    return READINGS[prompt.split("回答：")[-1].split("\n")[0]]


def _run(url: str, data: Path, out: Path, *extra: str) -> int:
    args = ["run", "--model", "m", "--tasks", "ceval_med_physician", "--data-dir", str(data)]
    return main([*args, "--backend", "openai", "--base-url", url, "--output", str(out), *extra])


def _only(root: Path) -> Path:
    (folder,) = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return folder


def _acc(folder: Path) -> float:
    return next(m["value"] for m in json.loads((folder / "metrics.json").read_text()) if m["metric"] == "acc")


@pytest.fixture
def data(tmp_path) -> Path:
    write_ceval_subject(tmp_path / "data", len(LOOSE))
    return tmp_path / "data"


def test_a_failing_extractor_makes_failed_items_not_unparsed_replies(data, tmp_path, capsys):
    with ScriptedChat([], reply=_model).serving() as url, ScriptedChat([("回答", "500")]).serving() as down:
        flags = ["--extractor", "llm", "--extractor-model", "x", "--extractor-base-url", down]
        code = _run(url, data, tmp_path / "runs", *flags, "--extractor-max-retries", "0")
    assert code == 3  # incomplete, as with failed model requests
    run = _only(tmp_path / "runs")
    assert json.loads((run / "status.json").read_text())["complete"] is False
    failures = [json.loads(x) for x in (run / "failures.jsonl").read_text().splitlines()]
    assert sorted(f["doc_id"] for f in failures) == [0, 2, 3] and all(
        "LLM extractor" in f["error"] for f in failures
    )
    acc = next(m for m in json.loads((run / "metrics.json").read_text()) if m["metric"] == "acc")
    assert (acc["value"], acc["n"], acc["n_failed"]) == (1.0, 1, 3)  # only 答案：B scored
    usage = json.loads((run / "calls.json").read_text())["extractor_usage"]
    assert usage["failed"] == 3
    assert "named no option" not in capsys.readouterr().err  # the model's replies are not blamed


def test_merge_reuses_the_shards_extractor_readings_with_the_extractor_down(data, tmp_path):
    reader = ScriptedChat([], reply=_extractor)
    with ScriptedChat([], reply=_model).serving() as url, reader.serving() as up:
        flags = ["--extractor", "llm", "--extractor-model", "x", "--extractor-base-url", up]
        assert _run(url, data, tmp_path / "whole", *flags) == 0
        for i in (0, 1):
            assert _run(url, data, tmp_path / f"s{i}", *flags, "--shard", f"{i}/2") == 0
    asked = reader.total
    shards = [str(_only(tmp_path / f"s{i}")) for i in (0, 1)]
    assert main(["merge", *shards, "--output", str(tmp_path / "merged")]) == 0  # extractor gone now
    assert reader.total == asked
    whole, merged = _only(tmp_path / "whole"), _only(tmp_path / "merged")
    assert _acc(merged) == _acc(whole) == 0.75  # items 0 and 3 read by the LLM, 1 by the patterns
    assert (merged / "samples" / "ceval_med_physician_gen.jsonl").read_text() == (
        whole / "samples" / "ceval_med_physician_gen.jsonl"
    ).read_text()


@pytest.fixture
def shards(tiny_model, tmp_path) -> list[Path]:
    common = ["run", "--model", tiny_model, "--tasks", "medqa_mcmle", "--data-dir", str(SAMPLES_DIR)]
    for i in (0, 1):
        assert main([*common, "--shard", f"{i}/2", "--output", str(tmp_path / f"s{i}")]) == 0
    return [_only(tmp_path / f"s{i}") for i in (0, 1)]


def test_merge_refuses_shards_that_read_other_data(shards, tmp_path, capsys):
    data = json.loads((shards[1] / "data.json").read_text())
    name = next(iter(data["files_sha256"]))
    data["files_sha256"][name] = "0" * 64  # gold changed between the shard runs
    (shards[1] / "data.json").write_text(json.dumps(data))
    assert main(["merge", *map(str, shards), "--output", str(tmp_path / "m")]) == 2
    assert "read other data than" in capsys.readouterr().err
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir())


def test_merge_refuses_a_shard_whose_samples_were_edited(shards, tmp_path, capsys):
    path = shards[0] / "samples" / "medqa_mcmle.jsonl"
    records = [json.loads(x) for x in path.read_text().splitlines()]
    for r in records:  # every recorded answer made the gold one
        r["raw"] = {letter: (0.0 if letter == r["gold"] else -50.0) for letter in r["raw"]}
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    assert main(["merge", *map(str, shards), "--output", str(tmp_path / "m")]) == 2
    assert "was edited after its run (or scored by another medbench); refused" in capsys.readouterr().err


def test_merge_refuses_edited_samples_whose_metrics_json_was_emptied(shards, tmp_path, capsys):
    """Issue 36: with metrics.json ``[]`` there was nothing to compare the edited samples with, and
    the merge scored them (66.67 for an unsharded 16.67)."""
    path = shards[0] / "samples" / "medqa_mcmle.jsonl"
    records = [json.loads(x) for x in path.read_text().splitlines()]
    for r in records:
        r["raw"] = {letter: (0.0 if letter == r["gold"] else -50.0) for letter in r["raw"]}
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    (shards[0] / "metrics.json").write_text("[]")
    assert main(["merge", *map(str, shards), "--output", str(tmp_path / "m")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"{shards[0] / 'metrics.json'} has no medqa_mcmle acc" in line and "refused" in line


@pytest.mark.parametrize(
    ("file", "content", "said"),
    [
        ("config.json", "{not json", "not readable JSON"),
        ("model.json", None, "missing"),
        ("model.json", "[1]", "expected a JSON object"),
        ("samples/medqa_mcmle.jsonl", "not json\n", "not a sample record"),
        ("samples/medqa_mcmle.jsonl", '{"doc_id": 0, "raw": [1, 2]}\n', "no log-likelihood per option"),
        ("data.json", "[]", "no files_sha256"),
        ("margins.json", '[{"threshold": "0.26"}]', "one positive threshold"),
    ],
)
def test_a_malformed_shard_file_is_one_line(shards, tmp_path, capsys, file, content, said):
    target = shards[1] / file
    if content is None:
        target.unlink()
    else:
        target.write_text(content)
    assert main(["merge", *map(str, shards), "--output", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_chat_shards_merge(data, tmp_path):
    with ScriptedChat([], reply=_model).serving() as url:
        assert _run(url, data, tmp_path / "whole") == 0
        for i in (0, 1):
            assert _run(url, data, tmp_path / f"s{i}", "--shard", f"{i}/2") == 0
    shards = [str(_only(tmp_path / f"s{i}")) for i in (0, 1)]
    assert main(["merge", *shards, "--output", str(tmp_path / "merged")]) == 0
    assert _acc(_only(tmp_path / "merged")) == _acc(_only(tmp_path / "whole"))
