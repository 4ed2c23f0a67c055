"""`medbench run` end to end on the bundled samples: the run folder holds everything a report needs."""

import json
import statistics
from pathlib import Path

import pytest

from medbench.core.paths import SAMPLES_DIR
from medbench.run.runner import RunConfig, run
from tests.helpers import samples_with_a_broken_row


@pytest.fixture(scope="module")
def sample_run(tiny_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    data_dir = samples_with_a_broken_row(tmp_path_factory.mktemp("data"))
    folder, scores = run(
        RunConfig(model=tiny_model, tasks=["ceval_med", "cmexam"], data_dir=str(data_dir), output=str(out))
    )
    return folder.path, scores


def test_run_folder_has_config_versions_fingerprints_results_samples_and_table(sample_run):
    path, _ = sample_run
    for name in (
        "config.json",
        "versions.json",
        "model.json",
        "data.json",
        "results.json",
        "metrics.json",
        "results.md",
        "calls.json",
    ):
        assert (path / name).is_file(), name
    versions = json.loads((path / "versions.json").read_text())
    assert versions["lm_eval"] and versions["torch"] and versions["transformers"]
    model = json.loads((path / "model.json").read_text())
    assert len(model["config_sha256"]) == 64 and all(len(h) == 64 for h in model["weights_sha256"].values())
    data = json.loads((path / "data.json").read_text())
    assert any(f.endswith("cmexam/val.csv") for f in data["files_sha256"])
    assert [r["reason"] for r in data["skipped_rows"]] == ["answer 'F' is not among the options A-E"]


def test_a_run_records_the_card_of_a_model_medbench_built(sample_run, tiny_model):
    """The report reads a model's stage from the run folder, never from the model folder (issue 36)."""
    path, _ = sample_run
    card = json.loads((Path(tiny_model) / "medbench_model_card.json").read_text())
    assert json.loads((path / "model_card.json").read_text()) == card


def test_per_sample_lines_hold_prompt_output_extracted_gold_and_correct(sample_run):
    path, _ = sample_run
    loglik = [
        json.loads(x) for x in (path / "samples" / "ceval_med_physician.jsonl").read_text().splitlines()
    ]
    assert len(loglik) == 4
    for rec in loglik:
        assert rec["prompt"].endswith("答案：")
        assert set(rec["raw"]) == {"A", "B", "C", "D"}
        assert rec["extracted"] == max(rec["raw"], key=rec["raw"].get)
        assert rec["correct"] == (rec["extracted"] == rec["gold"])
    gen = [json.loads(x) for x in (path / "samples" / "cmexam.jsonl").read_text().splitlines()]
    assert len(gen) == 7
    assert all(isinstance(r["raw"], str) and r["prompt"].startswith("返回限制") for r in gen)


def test_results_table_numbers_equal_the_per_sample_outcomes(sample_run):
    path, scores = sample_run
    by_task = {}
    for sample_file in (path / "samples").glob("*.jsonl"):
        recs = [json.loads(x) for x in sample_file.read_text().splitlines()]
        by_task[sample_file.stem] = (sum(r["correct"] for r in recs), len(recs))
    acc = {(s.task, s.convention): s for s in scores if s.metric == "acc"}
    for task, (correct, n) in by_task.items():
        assert acc[(task, "")].value == pytest.approx(correct / n)
        assert acc[(task, "")].n == n
    subjects = [t for t in by_task if t.startswith("ceval_med_")]
    micro = sum(by_task[t][0] for t in subjects) / sum(by_task[t][1] for t in subjects)
    macro = sum(by_task[t][0] / by_task[t][1] for t in subjects) / len(subjects)
    assert acc[("ceval_med", "micro (item-weighted)")].value == pytest.approx(micro)
    assert acc[("ceval_med", "macro (3 subjects)")].value == pytest.approx(macro)
    table = (path / "results.md").read_text()
    assert f"| ceval_med, micro (item-weighted) | 12 | 0 | {100 * micro:.2f} [" in table
    assert f"| ceval_med, macro (3 subjects) | 12 | 0 | {100 * macro:.2f} [" in table
    assert "| Task | Items | Excluded | acc | parse_fail_rate |" in table


def test_gen_mode_switches_each_task_to_its_generation_variant(tiny_model, tmp_path):
    folder, scores = run(
        RunConfig(
            model=tiny_model,
            tasks=["medqa_mcmle"],
            mode="gen",
            limit=2,
            data_dir=str(SAMPLES_DIR),
            output=str(tmp_path),
        )
    )
    assert {s.task for s in scores} == {"medqa_mcmle_gen"}
    assert {s.metric for s in scores} == {
        "acc",
        "parse_fail_rate",
        "truncated_thinking_rate",
        "llm_extracted_rate",
    }


def test_repeats_with_sampling_report_mean_and_std_over_seeds(tiny_model, tmp_path):
    folder, scores = run(
        RunConfig(
            model=tiny_model,
            tasks=["medqa_mcmle"],
            mode="gen",
            repeats=2,
            limit=3,
            temperature=1.0,
            max_new_tokens=8,
            data_dir=str(SAMPLES_DIR),
            output=str(tmp_path),
        )
    )
    raw = [
        [
            json.loads(x)["raw"]
            for x in (folder.path / f"samples-{r}" / "medqa_mcmle_gen.jsonl").read_text().splitlines()
        ]
        for r in (0, 1)
    ]
    assert raw[0] != raw[1]  # sampled with different seeds, never served from the cache
    for s in scores:
        assert len(s.values) == 2 and s.value == pytest.approx(sum(s.values) / 2)
        assert s.std == pytest.approx(statistics.stdev(s.values))
    assert "± is the std over 2 repeats" in (folder.path / "results.md").read_text()
    assert json.loads((folder.path / "calls.json").read_text())["decoding_overrides"]["do_sample"] is True


def test_a_run_reads_each_data_file_once_and_its_report_travels_with_the_data(
    tiny_model, tmp_path, monkeypatch
):
    """Checked before the model loads, then handed to lm-eval as read: one read per file, even with
    repeats; data.json still lists every file and every skipped row."""
    from collections import Counter

    from medbench.data.datareport import DataReport

    reads: Counter = Counter()
    original = DataReport.fingerprint
    monkeypatch.setattr(
        DataReport, "fingerprint", lambda self, path: (reads.update([str(path)]), original(self, path))
    )
    config = RunConfig(
        model=tiny_model,
        tasks=["ceval_med", "cmexam"],
        data_dir=str(samples_with_a_broken_row(tmp_path / "data")),
        output=str(tmp_path),
        limit=2,
        repeats=2,
        max_new_tokens=4,
    )
    folder, _ = run(config)
    assert len(reads) == 7 and set(reads.values()) == {1}  # 3 subjects x (dev, val) + cmexam/val.csv
    data = json.loads((folder.path / "data.json").read_text())
    assert len(data["files_sha256"]) == 7
    assert [r["reason"] for r in data["skipped_rows"]] == ["answer 'F' is not among the options A-E"]


def test_a_malformed_row_past_the_limit_is_not_counted_as_excluded(tiny_model, tmp_path):
    """issue 24, case 16: with --limit 10 the results said "Excluded: 4 malformed", naming rows far past
    the items scored. The broken row is the last of cmexam/val.csv (7 good rows before it)."""
    data = samples_with_a_broken_row(tmp_path / "data")

    def excluded(limit):
        config = RunConfig(
            model=tiny_model, tasks=["cmexam_loglik"], data_dir=str(data), output=str(tmp_path)
        )
        config.limit = limit
        _, scores = run(config)
        return {s.n_malformed for s in scores if s.metric == "acc"}

    assert excluded(3) == {0}  # rows 1-3 scored; the broken row 8 is not among them
    assert excluded(None) == {1}  # every item scored: the broken row sits among them
