"""`medbench demo`: train every stage of the tiny recipe and compare the stages on the sample tasks;
its console, written to a file as CI does, is short and says only what the user needs."""

import re
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_demo_trains_and_evaluates_every_stage_side_by_side(tmp_path):
    with open(tmp_path / "out.txt", "w", encoding="utf-8") as console:  # not a terminal
        done = subprocess.run(
            [sys.executable, "-m", "medbench", "demo", "--output", str(tmp_path)],
            stdout=console,
            stderr=subprocess.STDOUT,
        )
    out = (tmp_path / "out.txt").read_text(encoding="utf-8")
    assert done.returncode == 0, out[-3000:]
    lines = out.splitlines()
    assert len(lines) < 66, out  # issue 26 added the stage changes (3 lines) and the letter row
    assert not [x for x in lines if "Warning" in x or "warnings.warn" in x or "DEBUG" in x], out
    # issue 39: every sample its suites read is bundled, and each warning is said once
    assert "missing data file" not in out and "running dialogue: cmtmedqa, huatuo26m" in out, out
    warned = [x for x in lines if "WARNING" in x or "warning" in x.lower()]
    assert len(warned) == len(set(warned)), warned
    assert "'loss'" not in out and "it/s]" not in out  # no per-step dictionaries, no progress bars
    logs = {p: p.read_text(encoding="utf-8") for p in tmp_path.rglob("log.txt")}
    assert any("'loss'" in text for text in logs.values())  # the steps are in the stages' log.txt
    assert any("lm_eval" in text for text in logs.values())  # and the library logs in the runs'
    assert "judge (zhongjing_spf" in out and "chance" in out
    assert "| Task | Metric | base | pretrain | sft | dpo | chance |" in out
    for stage in ("pretrain", "sft", "reward", "dpo"):
        assert f"[demo] {stage}:" in out and f"| {stage} | " in out
    # issue 26: intervals in the table, and per stage and task what it fixed and broke, with a test
    assert re.search(r"\| ceval_med \(micro\) \| acc \| \d+\.\d\d \[\d+\.\d, \d+\.\d\] \|", out), out
    assert re.search(r"\| multiple choice \| most named letter \| [A-E] \d+% \|", out), out
    for before, after in (("base", "pretrain"), ("pretrain", "sft"), ("sft", "dpo")):
        for task in ("ceval_med", "cmmlu_med", "medqa_mcmle", "cmexam"):
            assert re.search(
                rf"{before} -> {after}: .*\b{task}: fixed \d+, broke \d+ \(exact McNemar p = ", out
            )
    stages = (tmp_path / "report" / "stages.md").read_text(encoding="utf-8")  # the report says it too
    assert "## tiny: what each stage fixed and broke" in stages and "sft -> dpo: " in stages
    assert "What each stage fixed and broke" in (tmp_path / "report" / "index.html").read_text(
        encoding="utf-8"
    )
    assert (tmp_path / "demo.md").read_text(encoding="utf-8") in out
    assert "Qilin-Med Table 5" in out and (tmp_path / "report" / "index.html").is_file()
    judged = list(tmp_path.rglob("*-judge-zhongjing_spf"))  # the judge step, against a served model
    assert judged and (judged[0] / "summary.json").is_file()
    assert "Judges" in (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert len(list(tmp_path.glob("*-tiny*"))) + len(list(tmp_path.glob("*-sft"))) >= 2
    # the demo's copy of a paper table (the suite's report) and the full report's show the same
    # measured numbers, row by row, each row saying how it was scored
    import pandas as pd

    (suite_t4,) = [p for p in tmp_path.rglob("qilin_med_table4.csv") if p.parent.parent.parent != tmp_path]
    full_t4 = pd.read_csv(tmp_path / "report" / "tables" / "qilin_med_table4.csv")
    suite_rows = pd.read_csv(suite_t4).query("Source == 'measured'")
    assert len(suite_rows) >= 1 and set(suite_rows["Mode"]) <= {"gen", "loglik"}
    for _, row in suite_rows.iterrows():
        same = full_t4[(full_t4["Model"] == row["Model"]) & (full_t4["Mode"] == row["Mode"])]
        assert len(same) == 1, (row["Model"], row["Mode"], list(full_t4["Model"]))
        assert same.iloc[0]["Average"] == row["Average"]
