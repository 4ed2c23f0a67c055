"""The contamination audit: which evaluation items training files hold, by 13-gram overlap, whole
text and near-duplicates, on a constructed corpus whose contamination is known."""

import csv
import json
import re
import shutil
from pathlib import Path

import pytest

from medbench.audit.overlap import N, ngrams, normalise
from medbench.cli.main import main
from medbench.config.contamination import ContaminationConfig
from medbench.core.errors import MedbenchError
from medbench.core.paths import SAMPLES_DIR
from medbench.run.contamination import evaluation_items, item_text, run_contamination

TASKS = ["medqa_mcmle", "cmexam", "ceval_med"]


def _paraphrase(text: str) -> str:
    """Every 12th character of the normalised text replaced: no 13-character run survives, three in
    four 3-character shingles do."""
    return "".join("某" if i % 12 == 11 else c for i, c in enumerate(normalise(text)))


@pytest.fixture
def corpus(tmp_path):
    """SFT records holding 10 bundled test items verbatim and 5 paraphrased, among unrelated text."""
    config = ContaminationConfig(train=["x"], tasks=TASKS, data_dir=str(SAMPLES_DIR))
    docs, _ = evaluation_items(config)
    usable = sorted(k for k, d in docs.items() if len(normalise(item_text(d)[1])) >= 24)
    verbatim, paraphrased = usable[::2][:10], usable[1::2][:5]  # every task has some of each
    records = [
        {
            "instruction": "介绍一下高血压的日常护理。",
            "input": "",
            "output": "低盐饮食，规律服药，定期测量血压。",
        }
    ]
    for key in verbatim:  # in the response: SFT's loss is on responses only, so the model learns them
        records.append({"instruction": "出一道医学考试题。", "input": "", "output": item_text(docs[key])[0]})
    for key in paraphrased:
        records.append({"instruction": _paraphrase(item_text(docs[key])[1]), "input": "", "output": "略"})
    records.append(
        {"instruction": "糖尿病患者能吃水果吗？", "input": "", "output": "血糖控制平稳时可少量食用低糖水果。"}
    )
    path = tmp_path / "sft.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    return path, verbatim, paraphrased, len(docs)


def test_the_audit_flags_exactly_the_copied_and_the_paraphrased_items(corpus, tmp_path):
    path, verbatim, paraphrased, total = corpus
    config = ContaminationConfig(
        train=[str(path)], tasks=TASKS, data_dir=str(SAMPLES_DIR), output=str(tmp_path)
    )
    folder, summary = run_contamination(config)
    rows = {(r["task"], r["id"]): r for r in map(json.loads, (folder.path / "contamination.jsonl").open())}
    assert len(rows) == total
    by_overlap = {k for k, r in rows.items() if "overlap" in r["why"]}
    by_near = {k for k, r in rows.items() if "near_duplicate" in r["why"]}
    assert by_overlap == set(verbatim)
    assert all(rows[k]["share"] == 1.0 and rows[k]["exact"] == 1 for k in verbatim)
    assert by_near - by_overlap == set(paraphrased)
    assert {k for k, r in rows.items() if r["flagged"]} == set(verbatim) | set(paraphrased)
    assert sum(t["flagged"] for t in summary["tasks"].values()) == 15
    assert summary["training"][0]["records"] == 17 and len(summary["training"][0]["sha256"]) == 64
    assert "Near-duplicate" in (folder.path / "results.md").read_text(encoding="utf-8")


def test_the_audit_counts_lm_evals_dirty_items_beside_its_flagged_ones(tmp_path):
    """Issue 36: "flagged" (half an item's 13-grams, its whole text or a near-duplicate) is not
    lm-eval's or GPT-3's "dirty" (any 13-gram): both counts are reported, each named."""
    config = ContaminationConfig(train=["x"], tasks=["cmexam"], data_dir=str(SAMPLES_DIR))
    docs, _ = evaluation_items(config)
    (one, one_doc), (whole, whole_doc) = sorted(docs.items(), key=lambda kv: -len(item_text(kv[1])[0]))[:2]
    text = normalise(item_text(one_doc)[0])
    assert len(text) >= 3 * N  # one 13-gram of it is far less than half of its 13-grams
    path = tmp_path / "train.txt"
    path.write_text(f"与此无关{text[:N]}与此无关\n{item_text(whole_doc)[0]}\n", encoding="utf-8")
    config.train, config.output = [str(path)], str(tmp_path / "out")
    folder, summary = run_contamination(config)
    rows = {(r["task"], r["id"]): r for r in map(json.loads, (folder.path / "contamination.jsonl").open())}
    assert (rows[one]["dirty"], rows[one]["flagged"]) == (True, False)
    assert (rows[whole]["dirty"], rows[whole]["flagged"]) == (True, True)
    assert sum(r["dirty"] for r in rows.values()) == 2
    assert (summary["tasks"]["cmexam"]["dirty"], summary["tasks"]["cmexam"]["flagged"]) == (2, 1)
    assert "lm-eval" in summary["dirty_rule"] and "GPT-3" in summary["dirty_rule"]
    results = (folder.path / "results.md").read_text(encoding="utf-8")
    assert "Dirty (any 13-gram)" in results and "| cmexam | 7 | 1 | 14.3% | 2 |" in results


def test_chinese_text_is_normalised_and_cut_into_character_ngrams():
    assert normalise("ＡＢ，c d。１２") == "abcd12"  # width, case, punctuation and spaces
    grams = ngrams("一二三四五六七八九十甲乙丙丁")
    assert len(grams) == 14 - N + 1 and all(len(g) == N for g in grams)
    assert ngrams("短文本") == {"短文本"}


def test_a_bad_training_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "好"}\nnot json\n', encoding="utf-8")
    config = ContaminationConfig(
        train=[str(bad)], tasks=["cmexam"], data_dir=str(SAMPLES_DIR), output=str(tmp_path)
    )
    with pytest.raises(MedbenchError, match=re.escape(f"{bad}:2: not a JSON value")):
        run_contamination(config)
    args = ["contamination", "--tasks", "cmexam", "--train", str(tmp_path / "none.jsonl")]
    assert main([*args, "--data-dir", str(SAMPLES_DIR), "--output", str(tmp_path)]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_a_training_file_nested_100000_deep_is_one_line(tmp_path, capsys, suffix):
    """Issue 36: RecursionError from the JSON reader was a traceback."""
    deep = tmp_path / f"deep{suffix}"
    deep.write_text("[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    args = ["contamination", "--tasks", "cmexam", "--train", str(deep), "--data-dir", str(SAMPLES_DIR)]
    assert main([*args, "--output", str(tmp_path / "out")]) == 2
    where = str(deep) + (":1" if suffix == ".jsonl" else "")
    assert capsys.readouterr().err.strip() == f"medbench: error: {where}: JSON nested too deep to read"


def test_a_csv_training_cell_over_16_mb_is_read_whole(tmp_path):
    """Issue 36: the csv module's 128 KB cell limit was a traceback (a whole document in one cell)."""
    from medbench.audit.training_files import training_records

    cell = "胃" * (16 * 1024 * 1024 + 1)
    big = tmp_path / "big.csv"
    big.write_text(f"text,label\n{cell},1\n", encoding="utf-8")
    assert [len(r[0]) for r in training_records(big)] == [4, len(cell)]


@pytest.mark.slow
def test_a_model_trained_on_the_items_is_audited_from_its_model_card_and_probed(corpus, tiny_model, tmp_path):
    from medbench.train.config import load_recipe
    from medbench.train.run import run_stage, stage_config

    path, verbatim, paraphrased, _ = corpus
    recipe = load_recipe("tiny", str(tmp_path / "models"))
    config = stage_config(recipe, "sft", [f"data={path}", "model=base", "training.num_train_epochs=5"])
    card = run_stage("sft", config, recipe)
    kept = Path(config.output_dir) / "training_data" / path.name  # the card names its model's copy
    assert f"training_data/{path.name}" in card["data_sha256"] and kept.read_bytes() == path.read_bytes()
    audit = ContaminationConfig(
        model_card=config.output_dir,
        model=config.output_dir,  # and the Min-K% probe of the same model
        tasks=TASKS,
        data_dir=str(SAMPLES_DIR),
        output=str(tmp_path / "audit"),
    )
    folder, summary = run_contamination(audit)
    assert [t["file"] for t in summary["training"]] == [str(kept)]  # the held-out file is not training data
    rows = [json.loads(line) for line in (folder.path / "contamination.jsonl").open()]
    assert {(r["task"], r["id"]) for r in rows if r["flagged"]} == set(verbatim) | set(paraphrased)
    assert all(r["min_k"] < 0 and r["min_k_reference"] < 0 for r in rows)  # every option-shuffled item
    # the probe separates the 10 items the model was trained on from the 9 it never saw ...
    found = summary["probe"]["separation"]
    assert (found["copied"], found["not_found"], found["left_out_near_duplicates"]) == (10, 9, 5)
    assert found["min_k"]["auroc"] >= 0.9 and found["min_k"]["mannwhitney_p"] < 0.01
    assert "AUROC" in (folder.path / "results.md").read_text(encoding="utf-8")
    # ... and the same model before that training does not: the probe measures training, not the items
    before, _ = run_contamination(
        ContaminationConfig(
            train=[str(path)], model=tiny_model, tasks=TASKS, data_dir=str(SAMPLES_DIR), output=str(tmp_path)
        )
    )
    control = json.loads((before.path / "summary.json").read_text())["probe"]["separation"]["min_k"]
    assert control["auroc"] < 0.8 and control["mannwhitney_p"] > 0.05
    _a_run_of_the_trained_model_audits_itself(config.output_dir, tiny_model, tmp_path)
    kept.write_text(
        kept.read_text(encoding="utf-8") + '{"instruction": "新加的", "input": "", "output": "x"}\n'
    )
    with pytest.raises(MedbenchError, match="changed since training"):  # edited after training
        run_contamination(audit)
    from medbench.run.runner import RunConfig, run

    edited, _ = run(
        RunConfig(model=config.output_dir, tasks=["cmexam"], data_dir=str(SAMPLES_DIR), output=str(tmp_path))
    )
    assert "changed since training" in json.loads((edited.path / "contamination.json").read_text())["skipped"]
    assert not (edited.path / "clean.json").exists()  # scored as usual, and says why there is no audit


def _a_run_of_the_trained_model_audits_itself(trained, untrained, tmp_path):
    """``medbench run`` on the model: its card's training files checked against the run's items with
    no flag, clean_acc beside acc, the leaderboard marking the row; ``report --clean-only``."""
    from medbench.run.runner import RunConfig, run

    common = dict(tasks=TASKS, data_dir=str(SAMPLES_DIR), output=str(tmp_path / "runs"))
    folder, _ = run(RunConfig(model=trained, **common))
    audit = json.loads((folder.path / "contamination.json").read_text(encoding="utf-8"))
    assert audit["source"] == "model card" and sum(t["flagged"] for t in audit["tasks"].values()) == 15
    kept = json.loads((folder.path / "clean.json").read_text(encoding="utf-8"))
    assert kept["source"] == "model card" and not kept["not_audited"]
    assert sum(t["flagged_left_out"] for t in kept["tasks"].values()) == 15
    scores = json.loads((folder.path / "metrics.json").read_text(encoding="utf-8"))
    assert sum(s["n"] for s in scores if s["metric"] == "clean_acc") == 24 - 15
    untrained_run, _ = run(RunConfig(model=untrained, **common))  # built, not trained: nothing to audit
    assert not (untrained_run.path / "clean.json").exists()
    site = tmp_path / "site"
    assert main(["report", str(tmp_path / "runs"), "--out", str(site), "--no-published"]) == 0
    board = {r["model"]: r for r in csv.DictReader((site / "leaderboard.csv").open(encoding="utf-8"))}
    marked = sorted(row["contamination"] for row in board.values())  # the trained model's row only
    assert marked == ["", "15 of 24 scored items flagged (model card audit)"]
    page = (site / "index.html").read_text(encoding="utf-8")
    assert page.count("⚠ contaminated") == 1 and "15 of 24 scored items flagged" in page
    clean_site = tmp_path / "clean-site"
    assert main(["report", str(tmp_path / "runs"), "--out", str(clean_site), "--clean-only"]) == 0
    text = (clean_site / "leaderboard.md").read_text(encoding="utf-8")
    assert text.startswith("Clean subsets only") and "cmexam (clean_acc)" in text
    header = (clean_site / "leaderboard.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "(acc)" not in header and "(clean_acc)" in header


def test_a_run_scores_each_audited_task_again_without_its_flagged_items(corpus, tiny_model, tmp_path, capsys):
    from medbench.run.runner import RunConfig, run

    path, verbatim, paraphrased, _ = corpus
    audit, _ = run_contamination(
        ContaminationConfig(train=[str(path)], tasks=TASKS, data_dir=str(SAMPLES_DIR), output=str(tmp_path))
    )
    folder, _ = run(
        RunConfig(
            model=tiny_model,
            tasks=[*TASKS, "cmmlu_med"],  # CMMLU was not audited: no clean score for it
            data_dir=str(SAMPLES_DIR),
            output=str(tmp_path / "runs"),
            exclude_contaminated=str(audit.path),
        )
    )
    scores = json.loads((folder.path / "metrics.json").read_text(encoding="utf-8"))
    full = {s["task"]: s["n"] for s in scores if s["metric"] == "acc" and s["convention"] == ""}
    clean = {s["task"]: s for s in scores if s["metric"] == "clean_acc"}
    flagged = {}
    for task, _ in [*verbatim, *paraphrased]:
        flagged[task] = flagged.get(task, 0) + 1
    assert flagged and set(flagged) <= set(clean)
    for task, s in clean.items():
        assert s["n"] == full[task] - flagged.get(task, 0)
        assert s["ci_method"] == "wilson" if s["n"] else s["value"] is None  # no item left: no score
    record = json.loads((folder.path / "clean.json").read_text(encoding="utf-8"))
    assert record["not_audited"] and all(t.startswith("cmmlu") for t in record["not_audited"])
    assert "flagged item(s) left out" in (folder.path / "results.md").read_text(encoding="utf-8")
    assert main(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "site"), "--no-published"]) == 0
    header = (tmp_path / "site" / "leaderboard.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "cmexam (clean_acc)" in header and "cmexam (acc)" in header  # the clean score beside the full
    (row,) = csv.DictReader((tmp_path / "site" / "leaderboard.csv").open(encoding="utf-8"))
    left_out = sum(v["flagged_left_out"] for v in record["tasks"].values())
    scored = sum(v["scored"] for v in record["tasks"].values())
    assert (
        row["contamination"] == f"{left_out} of {scored} scored items flagged (--exclude-contaminated audit)"
    )
    record["source"] = "=HYPERLINK(1)"  # a received clean.json is read like user input
    (folder.path / "clean.json").write_text(json.dumps(record), encoding="utf-8")
    assert main(["report", str(folder.path), "--out", str(tmp_path / "site2"), "--no-published"]) == 2
    assert "clean.json: field source: input should be" in capsys.readouterr().err


def _audit(tmp_path, data_dir=SAMPLES_DIR, **settings):
    config = ContaminationConfig(tasks=["cmexam"], data_dir=str(data_dir), output=str(tmp_path), **settings)
    return run_contamination(config)[0].path


def _unflag(folder):  # a row no audit writes
    (folder / "contamination.jsonl").write_text('{"task": "cmexam", "id": 1, "flagged": "yes"}\n')


def _forget_data(folder):  # a summary without the data's fingerprints
    summary = json.loads((folder / "summary.json").read_text())
    summary["data_sha256"] = {"cmexam": ["not a sha256"]}
    (folder / "summary.json").write_text(json.dumps(summary))


@pytest.mark.parametrize(
    "tamper, message",
    [
        (_unflag, r"contamination.jsonl:1: expected an object with task, id"),
        (_forget_data, r"summary.json: no data_sha256"),
        (lambda folder: (folder / "summary.json").unlink(), r"summary.json: missing or not readable JSON"),
    ],
    ids=["bad-row", "no-data-fingerprint", "no-summary"],
)
def test_a_malformed_audit_is_one_line_before_the_model_loads(corpus, tmp_path, tamper, message):
    from medbench.run.runner import RunConfig, run

    audit = _audit(tmp_path, train=[str(corpus[0])])
    tamper(audit)
    config = RunConfig(
        model="/no/such/model", tasks=["cmexam"], data_dir=str(SAMPLES_DIR), exclude_contaminated=str(audit)
    )
    with pytest.raises(MedbenchError, match=message):
        run(config)


def test_an_audit_of_other_data_or_of_no_training_data_is_refused_before_the_model_loads(
    corpus, tiny_model, tmp_path, monkeypatch
):
    """Item ids name items only in the data the audit read: an audit of another copy of the data would
    drop other items. A probe-only audit flags nothing: it would leave every item in, called clean."""
    import medbench.backends.hf as hf
    from medbench.run.runner import RunConfig, run

    audit = _audit(tmp_path, train=[str(corpus[0])])
    probe_only = _audit(tmp_path / "probe", model=tiny_model)
    edited = tmp_path / "data"
    shutil.copytree(SAMPLES_DIR, edited)
    with open(edited / "cmexam" / "val.csv", "a", encoding="utf-8") as fh:
        fh.write("\n")  # the same items; other bytes
    monkeypatch.setattr(hf.HFConfig, "make_lm", lambda *a: pytest.fail("the model was loaded"))
    config = RunConfig(
        model=tiny_model, tasks=["cmexam"], data_dir=str(edited), exclude_contaminated=str(audit)
    )
    with pytest.raises(MedbenchError, match=r"the audit read other data for cmexam than this run reads"):
        run(config)
    config.data_dir, config.exclude_contaminated = str(SAMPLES_DIR), str(probe_only)
    with pytest.raises(MedbenchError, match=r"this audit checked no training data \(a Min-K% probe"):
        run(config)


def test_the_probe_runs_from_the_command_line_with_its_caveats(tiny_model, tmp_path, capsys):
    with pytest.raises(SystemExit) as done:  # a literal % in a setting's help once broke --help
        main(["contamination", "--help"])
    assert done.value.code == 0 and "Min-K% Prob" in capsys.readouterr().out
    args = ["contamination", "--tasks", "cmexam", "--model", tiny_model, "--backend", "hf-fast"]
    assert main([*args, "--min-k", "10", "--data-dir", str(SAMPLES_DIR), "--output", str(tmp_path)]) == 0
    (folder,) = tmp_path.glob("*contamination*")
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert "training" not in summary and summary["probe"]["k_percent"] == 10
    assert summary["probe"]["convention"] == "medbench"  # the default, named (issue 36)
    assert summary["probe"]["tasks"]["cmexam"]["items"] == 7
    text = (folder / "results.md").read_text(encoding="utf-8")
    assert "Min-K% Prob probe" in text and "not proof of training" in text
    assert "Against the training" not in text  # no training data named: no AUROC
    assert main(["contamination", "--tasks", "cmexam", "--min-k", "0", "--model", tiny_model]) == 2
    assert "--min-k must be in (0, 100]" in capsys.readouterr().err
    again = [*args, "--min-k-convention", "reference", "--data-dir", str(SAMPLES_DIR)]
    assert main([*again, "--output", str(tmp_path / "reference")]) == 0
    (folder,) = (tmp_path / "reference").glob("*contamination*")
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["probe"]["convention"] == "reference"
    assert "swj0419/detect-pretrain-code" in (folder / "results.md").read_text(encoding="utf-8")


def test_a_circular_run_leaves_out_every_rotation_of_each_flagged_question():
    """Issue 36: audit ids (q1) were matched against rotation ids (q1#r0): nothing was left out and
    clean_acc equalled acc, 'flagged 0 of 20', while the audit flagged 3 of 5 questions."""
    from medbench.audit.clean import Audit, clean_scores

    records = [
        {"id": f"q{q}#r{k}", "unit": f"q{q}", "circular_of": f"q{q}", "rotation": k, "rotations": 4}
        | {"correct": q < 3}  # the three flagged questions are the right ones
        for q in range(5)
        for k in range(4)
    ]
    audit = Audit("audit", "0" * 64, {"cmexam": {"q0", "q1", "q2"}}, {"cmexam"}, {})
    (score,), uncovered, record = clean_scores({"cmexam": records}, audit)
    assert record["cmexam"] == {"scored": 5, "flagged_left_out": 3, "clean": 2}
    assert (score.value, score.n) == (0.0, 2) and uncovered == []
    assert score.ci_high > 0  # two wrong questions: Wilson [0, 65.8], not a point
    records[-1]["error"] = "HTTP 500"  # a failed rotation: its question left out and said so
    (score,), _, record = clean_scores({"cmexam": records}, audit)
    assert (score.n, score.n_failed) == (1, 1)
