"""Paper suites: each resolves, runs on the tiny models, and writes the paper-layout tables."""

import json

import pandas as pd
import pytest

from medbench.cli.main import main
from medbench.cli.suite import SuiteConfig, plan, run_suite
from medbench.core.paths import SAMPLES_DIR
from medbench.run.runner import RunConfig, run


@pytest.mark.parametrize("name", ["chimed_gpt", "qilin_med", "zhongjing", "iimedgpt"])
def test_each_suite_resolves_listing_tasks_settings_and_outputs(name, shared_data, capsys):
    assert main(["suite", name, "--model", "tiny", "--data-dir", str(shared_data), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "parts:" in out and "outputs:" in out
    steps = plan(SuiteConfig(suite=name, model="tiny", data_dir=str(shared_data)))
    assert all(part["tasks"] or part["skipped"] for part in steps["parts"])


def test_unavailable_parts_are_skipped_with_a_reason(shared_data):
    steps = plan(SuiteConfig(suite="chimed_gpt", model="tiny", data_dir=str(shared_data)))
    skipped = {t: r for part in steps["parts"] for t, r in part["skipped"].items()}
    # licensed data, not in the public mirror; the CCKS-2019 test release is not in it either
    assert set(skipped) == {"chimst_ner", "chimed_qa", "ccks2019_ner"}
    assert all("missing data file" in r for r in skipped.values())
    assert "ccks2019_ner_train_heldout" in skipped["ccks2019_ner"]
    assert next(b for b in steps["bias"] if b["scale"] == "mica")["skipped"].startswith("MICA item texts")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "tables"),
    [
        (
            "qilin_med",
            {
                "qilin_med_table4": [
                    "Average",
                    "Clinical Medicine",
                    "Physician",
                    "Basic Medicine",
                    "Source",
                    "Mode",
                    "Prompts",
                    "Items",
                    "Convention",
                ],
                "qilin_med_table5": [
                    "Accuracy",
                    "BLEU-1",
                    "BLEU-4",
                    "ROUGE-1",
                    "ROUGE-2",
                    "ROUGE-L",
                    "Source",
                    "Mode",
                    "Prompts",
                    "Items",
                    "Convention",
                ],
                "qilin_med_table6": [
                    "BLEU-1",
                    "BLEU-4",
                    "ROUGE-1",
                    "ROUGE-2",
                    "ROUGE-L",
                    "Source",
                    "Mode",
                    "Prompts",
                    "Items",
                    "Convention",
                ],
            },
        ),
        (
            "chimed_gpt",
            {
                "chimed_gpt_table4": [
                    "CCKS-2019",
                    "ChiMST",
                    "Source",
                    "Mode",
                    "Prompts",
                    "Items",
                    "Convention",
                ],
                "chimed_gpt_table5": [
                    "C-Eval Acc",
                    "CMMLU Acc",
                    "MedQA Acc",
                    "ChiMed B-1",
                    "B-2",
                    "R-1",
                    "R-2",
                    "R-L",
                    "Source",
                    "Mode",
                    "Prompts",
                    "Items",
                    "Convention",
                ],
                "chimed_gpt_table8": [
                    "B-1",
                    "B-2",
                    "R-1",
                    "R-2",
                    "R-L",
                    "Source",
                    "Mode",
                    "Prompts",
                    "Items",
                    "Convention",
                ],
            },
        ),
    ],
)
def test_suite_writes_the_papers_tables_with_measured_and_reported_rows(
    name, tables, tiny_model, shared_data, tmp_path
):
    root, _ = run_suite(
        SuiteConfig(
            suite=name,
            model=tiny_model,
            data_dir=str(shared_data),
            output=str(tmp_path),
            limit=2,
            max_new_tokens=8,
        )
    )
    for table, columns in tables.items():
        df = pd.read_csv(root / "report" / "tables" / f"{table}.csv")
        assert list(df.columns) == ["Model", *columns]
        # no CCKS-2019 test release in the public data: no measured row in the test-set column
        measured_rows = 0 if table == "chimed_gpt_table4" else 1
        assert (df["Source"] == "measured").sum() == measured_rows and (df["Source"] != "measured").sum() >= 6
    assert sorted(p.stem for p in (root / "report" / "tables").glob("*.csv")) == sorted(tables)
    if name == "qilin_med":  # accuracy and explanations are cmexam-official, and say so (issue 24)
        t5 = pd.read_csv(root / "report" / "tables" / "qilin_med_table5.csv")
        row = t5[t5["Source"] == "measured"].iloc[0]
        assert row["Convention"].startswith("cmexam-official (CMExam's scorer: exact answer string")
        assert list((root / "runs").glob("*/samples/cmexam_official.jsonl"))  # the suite runs it
        assert set(t5[t5["Source"] != "measured"]["Convention"]) == {
            "CMExam's scorer (from Qilin-Med's released code)"
        }
        (run_folder,) = [
            p for p in (root / "runs").glob("*") if (p / "samples" / "cmexam_explain.jsonl").is_file()
        ]
        metrics = pd.read_json(run_folder / "metrics.json")
        bleu1 = metrics[(metrics["task"] == "cmexam_explain") & (metrics["metric"] == "bleu1_cmexam")][
            "value"
        ]
        assert row["BLEU-1"] == pytest.approx(round(100 * bleu1.iloc[0], 2))


@pytest.mark.slow
def test_zhongjing_suite_judges_against_a_baseline_on_transformers_serve(
    tiny_model, served_tiny, shared_data, tmp_path
):
    baseline, _ = run(
        RunConfig(
            model=tiny_model,
            tasks=["cmtmedqa", "huatuo26m"],
            limit=2,
            max_new_tokens=8,
            temperature=1.0,
            data_dir=str(shared_data),
            output=str(tmp_path / "baseline"),
        )
    )
    root, steps = run_suite(
        SuiteConfig(
            suite="zhongjing",
            model=tiny_model,
            data_dir=str(shared_data),
            output=str(tmp_path),
            limit=2,
            max_new_tokens=8,
            baseline=str(baseline.path),
            judges=[f"served={tiny_model}@{served_tiny}"],  # a jury (of one) named with --judge
        )
    )
    judged = sorted((root / "runs").glob("*-judge-zhongjing_spf*"))  # -2: two in one second
    assert len(judged) == 2  # cmtmedqa and huatuo26m
    for folder in judged:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        assert [j["name"] for j in config["jury"]] == ["served"]
        summary = pd.read_json(folder / "summary.json", typ="series")
        for dim in ("safety", "professionalism", "fluency"):
            d = summary["dimensions"][dim]
            # every item in one bucket: judged (an empty answer's loss included), unreadable, failed,
            # or both answers empty (never sent)
            assert d["items"] == 2
            assert d["judged"] + d["parse_failures"] + d["request_errors"] + d["both_empty"] == 2


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["hf-fast", "openai"])
def test_a_suite_runs_on_the_backend_it_is_given(backend, tiny_model, served_tiny, tmp_path):
    """`medbench suite` takes the same backend flags as `run` (it used to run every suite on hf, CPU)."""
    flags = (
        ["--backend", "openai", "--base-url", served_tiny] if backend == "openai" else ["--backend", backend]
    )
    args = ["suite", "qilin_med", "--model", tiny_model, "--data-dir", str(SAMPLES_DIR), "--limit", "2"]
    assert main([*args, "--max-new-tokens", "4", "--output", str(tmp_path), *flags]) == 0
    configs = [json.loads(p.read_text()) for p in tmp_path.glob("*-suite-qilin_med/runs/*/config.json")]
    assert len(configs) == 3 and {c["backend"] for c in configs} == {backend}
    if backend == "openai":
        assert {c["backend_options"]["base_url"] for c in configs} == {served_tiny}
        assert {c["resolved_tasks"][0] for c in configs} >= {"cmexam", "ceval_med_gen", "huatuo26m"}
    else:
        assert {c["backend_options"]["device"] for c in configs} == {"cpu"}  # resolved: no GPU here
    assert (next(tmp_path.glob("*-suite-qilin_med")) / "report" / "tables" / "qilin_med_table4.md").is_file()
