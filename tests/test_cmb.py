"""Issue 40: CMB (FreedomIntelligence/CMB), CMB-Exam's 28 exam classes and CMB-Clin.

The fixture ``tests/fixtures/cmb/`` is written by this project in CMB's exact layouts (two questions
per exam class, not CMB's data): the questions file, the answers file joined to it by id, the
hierarchy file's counts and a CMB-Clin file of two cases. A 6-option question (id 9), a one-character
option (id 3, which CMB's prompt leaves out), multiple-answer questions and an answer given as ``EB``
(id 14) are among them.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from medbench.cli.main import main
from medbench.core.errors import MedbenchError
from medbench.core.paths import plugin_dir
from tests.helpers import load_task_data

FIXTURE = Path(__file__).parent / "fixtures"
CMB_TASKS = plugin_dir("tasks") / "cmb"


def leaves(suffix: str = "") -> list[str]:
    import importlib.util

    spec = importlib.util.spec_from_file_location("cmb_generate", CMB_TASKS / "_generate_configs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [name + suffix for name, _, _ in module.leaves()]


def copy_fixture(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE / "cmb", tmp_path / "cmb")
    return tmp_path


def edit(root: Path, relative: str, change) -> None:
    path = root / relative
    records = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(change(records), ensure_ascii=False), encoding="utf-8")


def test_each_of_the_28_exam_classes_is_a_leaf_reading_its_own_questions_with_their_answers():
    names = leaves("_gen")
    assert len(names) == 28
    seen = {}
    for name in names:
        (test,) = load_task_data(name, FIXTURE).values()
        classes = {r["fields"]["exam_class"] for r in test}
        assert len(test) == 2 and len(classes) == 1, name
        seen.update({r["id"]: r for r in test})
    assert sorted(int(i) for i in seen) == list(range(1, 57))  # every question once, in its class
    assert seen["7"]["answer"] == "ACD" and seen["7"]["fields"]["question_type"] == "多项选择题"
    assert seen["14"]["answer"] == "BE" and seen["14"]["answer_as_given"] == "EB"
    assert [letter for letter, _ in seen["9"]["options"]] == list("ABCDEF")
    assert "\nC. 肺" not in seen["3"]["prompt"] and "\nD. 选项肾脏3" in seen["3"]["prompt"]
    cue = "以下是中国医师考试中执业医师考试的一道单项选择题，不需要做任何分析和解释"
    assert seen["5"]["prompt"].startswith(cue)


def test_loglik_leaves_leave_multiple_answer_questions_out_and_cot_leaves_use_cmbs_cot_prompt():
    (loglik,) = load_task_data("cmb_exam_physician_senior", FIXTURE).values()  # ids 9 and 10
    assert [r["id"] for r in loglik] == ["9", "10"] and loglik[0]["prompt"].endswith("答案：")
    (gen,) = load_task_data("cmb_exam_nursing_senior_nurse_gen", FIXTURE).values()  # ids 13 and 14
    assert [r["answer"] for r in gen] == ["D", "BE"]
    (loglik_multi,) = load_task_data("cmb_exam_nursing_senior_nurse", FIXTURE).values()
    assert [r["id"] for r in loglik_multi] == ["13"]
    (cot,) = load_task_data("cmb_exam_nursing_senior_nurse_cot", FIXTURE).values()
    assert "请分析每个选项，并最后给出答案。" in cot[0]["prompt"]


def _drop_answer(records):
    return [r for r in records if r["id"] != 5]


def _answer_twice(records):
    return [*records, dict(records[4])]


def _extra_answer(records):
    return [*records, {**records[0], "id": 999}]


def _fewer_in_hierarchy(tree):  # its totals agree: only the class's count is off
    totals = {
        **tree["总题量"],
        "医师考试": tree["总题量"]["医师考试"] + 1,
        "总题量": tree["总题量"]["总题量"] + 1,
    }
    return {**tree, "医师考试": {**tree["医师考试"], "执业医师": 3}, "总题量": totals}


def _no_text_answer(records):
    return [{**r, "answer": 4} if r["id"] == 5 else r for r in records]


def _class_as_list(records):
    return [{**r, "exam_class": [r["exam_class"]]} if r["id"] == 5 else r for r in records]


def _class_of_no_task(records):
    return [{**r, "exam_class": "新类"} if r["id"] == 5 else r for r in records]


def _totals_off(tree):
    return {**tree, "总题量": {**tree["总题量"], "总题量": 999}}


def _type_total_off(tree):
    return {**tree, "总题量": {**tree["总题量"], "医师考试": 1}}


QUESTIONS = "cmb/CMB-test/CMB-test-choice-question-merge.json"
HIERARCHY = "cmb/CMB-test/CMB-test-choice-hierarchy.json"


@pytest.mark.parametrize(
    "relative, change, message",
    [
        (QUESTIONS, _class_as_list, "record 5: fields exam_type/exam_class: '医师考试'/['执业医师'] is not"),
        (QUESTIONS, _class_of_no_task, "'医师考试'/'新类' is not one of CMB-Exam's 28 exam classes"),
        (HIERARCHY, _totals_off, "总题量 gives 总题量 999 question(s); its classes add up to 56"),
        (HIERARCHY, _type_total_off, "总题量 gives 医师考试 1 question(s); its classes add up to 10"),
        ("cmb/CMB-test-choice-answer.json", _drop_answer, "question id 5 has no answer"),
        ("cmb/CMB-test-choice-answer.json", _answer_twice, "id 5 has two answers (records 5 and 57)"),
        ("cmb/CMB-test-choice-answer.json", _extra_answer, "answer id 999 has no question"),
        ("cmb/CMB-test/CMB-test-choice-hierarchy.json", _fewer_in_hierarchy, "医师考试/执业医师 has 2"),
        ("cmb/CMB-test-choice-answer.json", _no_text_answer, "record 5: field answer"),
    ],
)
def test_the_join_is_checked_whole_and_each_failure_is_one_line(tmp_path, capsys, relative, change, message):
    root = copy_fixture(tmp_path)
    edit(root, relative, change)
    with pytest.raises(MedbenchError, match="CMB|cmb") as caught:  # every message names the file
        load_task_data("cmb_exam_nursing_nurse_gen", root)  # another class: the whole join is checked
    assert message in str(caught.value) and "\n" not in str(caught.value)
    code = main(["run", "--model", "tiny", "--tasks", "cmb_exam_nursing_nurse_gen", "--data-dir", str(root)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err


def test_a_question_whose_answer_record_names_another_class_is_reported_not_scored(tmp_path):
    root = copy_fixture(tmp_path)
    edit(
        root,
        "cmb/CMB-test-choice-answer.json",
        lambda rs: [{**r, "question_type": "多项选择题"} if r["id"] == 11 else r for r in rs],
    )
    (test,) = load_task_data("cmb_exam_nursing_nurse_gen", root).values()
    assert [r["id"] for r in test] == ["12"]


@pytest.mark.parametrize("given", ["b", " C ", "B,", "BB", "Ｂ", "H"])
def test_an_answer_string_cmb_could_not_compare_is_reported_with_its_answer_record_never_normalised(
    tmp_path, given
):
    root = copy_fixture(tmp_path)
    answers = "cmb/CMB-test-choice-answer.json"
    edit(root, answers, lambda rs: [{**r, "answer": given} if r["id"] == 11 else r for r in rs])
    data = load_task_data("cmb_exam_nursing_nurse_gen", root)
    (test,) = data.values()
    assert [r["id"] for r in test] == ["12"]  # question 11 left out, counted
    (skipped,) = data.report.skipped
    assert f"{answers.removeprefix('cmb/')} record 11: expected option letters A-G, each once" in str(skipped)


def test_a_cmb_clin_case_id_given_twice_reports_the_later_case_whole(tmp_path):
    root = copy_fixture(tmp_path)
    edit(
        root, "cmb/CME-test-qa/CMB-test-qa.json", lambda cases: [cases[0], {**cases[1], "id": cases[0]["id"]}]
    )
    data = load_task_data("cmb_clin", root)
    cases = {r["fields"]["title"] for r in data["test"]}
    assert len(cases) == 1  # the first case's questions only: none of the later case under its id
    (skipped,) = data.report.skipped
    assert skipped.row == 2 and "is row 1's too" in str(skipped)


def test_more_options_than_letters_read_is_reported_not_half_checked():
    from medbench.scoring import mc

    item = {"question": "问", "options": [[x, "文"] for x in "ABCDEFGHI"], "answer": "I"}
    assert mc.problem(item) == "9 options: at most 8 (A-H) are read"


@pytest.fixture
def cmb_host(monkeypatch, tmp_path):
    """The fixture's four files published on a loopback git host and pinned by their blob ids."""
    from medbench.data import sources
    from tests.test_sources import COMMIT, REPO, Host, blob_id

    monkeypatch.setenv("MEDBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MEDBENCH_DATA", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    served, pins = Host(), []
    for path in sorted((FIXTURE / "cmb").rglob("*.json")):
        local, data = path.relative_to(FIXTURE).as_posix(), path.read_bytes()
        pin = sources.Source("cmb", local, REPO, COMMIT, f"data/{local}", blob_id(data), None, "test", True)
        pins.append(replace(pin, size=len(data)))
        served.publish(local, data)
    monkeypatch.setattr(sources, "declared", lambda tasks_dir=None: pins)
    with served.serving() as url:
        monkeypatch.setenv(sources.MIRROR_ENV, url)
        yield served


def test_cmb_is_pulled_by_its_pins_read_offline_and_an_altered_answer_file_stops_the_run(
    cmb_host, monkeypatch, tmp_path, capsys
):
    from medbench.data import sources
    from tests.servers import ScriptedChat

    assert main(["data", "pull", "--tasks", "cmb_exam"]) == 0
    answers = sources.pulled_root() / "cmb" / "CMB-test-choice-answer.json"
    assert answers.read_bytes() == (FIXTURE / "cmb" / "CMB-test-choice-answer.json").read_bytes()
    assert main(["data", "verify", "--tasks", "cmb_exam_gen"]) == 0
    assert "4 of 4 file(s) match their pins" in capsys.readouterr().out
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv(sources.MIRROR_ENV, "http://127.0.0.1:9")  # nothing may be downloaded now
    with ScriptedChat([], reply="答案：A").serving() as url:
        args = ["run", "--model", "scripted", "--backend", "openai", "--base-url", url]
        args += ["--model-args", "model_name=scripted", "--tasks", "cmb_exam_physician_licensed_gen"]
        assert main([*args, "--slice-by", "exam_subject", "--output", str(tmp_path / "a")]) == 0
        (run,) = (tmp_path / "a").glob("2*")
        (found,) = json.loads((run / "slices.json").read_text(encoding="utf-8"))
        assert (found["value"], found["n"], found["correct"]) == ("执业医师科目", 2, 1)
        samples = [json.loads(x) for x in (run / "samples" / "cmb_exam_physician_licensed_gen.jsonl").open()]
        assert [(s["gold"], s["correct"]) for s in samples] == [("A", True), ("B", False)]
        assert str(answers) in json.loads((run / "data.json").read_text(encoding="utf-8"))["files_sha256"]
        answers.write_bytes(answers.read_bytes().replace(b'"answer": "A"', b'"answer": "B"'))
        assert main([*args, "--output", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(answers) in err[-1] and "altered" in err[-1], err
    assert main(["data", "verify", "--tasks", "cmb_exam_gen"]) == 1


def test_cmb_clin_asks_each_question_after_the_earlier_ones_with_their_reference_answers():
    (test,) = load_task_data("cmb_clin", FIXTURE).values()
    assert [r["id"] for r in test] == ["0-1", "0-2", "1-1", "1-2", "1-3"]
    first, third = test[2], test[4]
    assert (
        first["question"]
        == "以下是一位病人的病例：\n现病史\n病人，女，30岁，测试用病例，发热3天。\n简述该病人的诊断。"
    )
    assert third["history"] == [
        ["patient", first["question"]],
        ["doctor", "测试诊断乙。"],
        ["patient", "还需要做哪些检查？"],
        ["doctor", "血常规。"],
    ]
    assert third["question"] == "简述治疗原则。" and third["reference"] == "对症治疗。"
    assert [m["role"] for m in third["messages"]] == ["user", "assistant", "user", "assistant", "user"]


def test_a_cmb_clin_case_of_the_wrong_shape_is_reported_whole_not_scored(tmp_path):
    root = copy_fixture(tmp_path)
    edit(root, "cmb/CME-test-qa/CMB-test-qa.json", lambda cases: [cases[0], {**cases[1], "QA_pairs": "无"}])
    data = load_task_data("cmb_clin", root)
    assert [r["id"] for r in data["test"]] == ["0-1", "0-2"]
    (skipped,) = data.report.skipped
    assert skipped.row == 2 and "QA_pairs: expected a list" in str(skipped)


def test_served_runs_of_cmb_exam_and_cmb_clin_judged_by_a_jury_make_a_report_with_cmbs_columns(tmp_path):
    """The issue's acceptance: two served models on CMB-Exam (``--limit 2``) and CMB-Clin, a jury of two
    judges with CMB's rubric, then one report of the runs and the verdicts."""
    import re

    from medbench.judge import run_judge
    from medbench.judge.session import JudgeConfig
    from medbench.run.runner import RunConfig, run
    from tests.servers import ScriptedChat

    folders = []
    for model, reply in (("model-a", "答案：B。详细的诊断与治疗建议"), ("model-b", "不知道")):
        with ScriptedChat([], reply=reply).serving() as url:
            options = {"model_name": model, "max_retries": 0, "timeout": 5.0, "base_url": url}
            config = RunConfig(
                model=model,
                tasks=["cmb_exam", "cmb_exam_official", "cmb_clin"],
                backend="openai",
                data_dir=str(FIXTURE),
                output=str(tmp_path / "runs"),
                backend_options=options,
                limit=2,
            )
            folders.append(run(config)[0].path)
    records = [json.loads(x) for x in (folders[0] / "samples" / "cmb_clin.jsonl").read_text().splitlines()]
    assert [r["reference"] for r in records] == ["诊断：测试诊断甲。\n依据：上腹痛。", "测试治疗原则甲。"]

    def rate(prompt: str) -> str:
        key = re.search(r"‘ (\w+) ’: 3 }$", prompt).group(1)
        return json.dumps({key: 5 if "详细的诊断" in prompt.split("[ answer ]")[1] else 2})

    with ScriptedChat([], reply=rate).serving() as url:
        judged, summary = run_judge(
            JudgeConfig(
                runs=[str(f) for f in folders],
                task="cmb_clin",
                rubric="cmb_clin",
                judges=[f"j1=judge-one@{url}", f"j2=judge-two@{url}"],
                lang="en",
                output=str(tmp_path / "judged"),
            )
        )
    for dim in ("fluency", "relevance", "completeness", "proficiency"):
        s = summary["dimensions"][dim]
        assert s["mean_score"] == {"a": 5.0, "b": 2.0} and s["judged"] == 2 and s["parse_failures"] == 0
    assert set(summary["judges"]) == {"j1", "j2"}  # a jury of two
    site = tmp_path / "site"
    assert main(["report", str(tmp_path / "runs"), str(judged.path), "--out", str(site)]) == 0
    table = pd.read_csv(site / "tables" / "cmb_exam_table.csv")
    columns = [
        "Physician",
        "Nurse",
        "Pharmacist",
        "Technician",
        "Disciplines",
        "Graduate Entrance Exam",
        "Avg",
    ]
    assert list(table.columns[1:8]) == columns and list(table["Source"]) == ["measured", "measured"]
    assert sorted(table["Physician"]) == [0.0, 50.0]  # --limit 2: two 规培结业 questions, answers B and C
    title = (site / "tables" / "cmb_exam_table.md").read_text(encoding="utf-8").splitlines()[0]
    assert "published rows: none (CMB's repository at the pinned commits gives no results" in title
    page = (site / "index.html").read_text(encoding="utf-8")
    assert "CMB-Exam" in page and "cmb_exam_gen" in page and "cmb_clin" in page
    # a cmb_exam_official column shows what CMB reports: its own average
    assert "cmb_exam_official (acc_cmb)" in (site / "leaderboard.md").read_text(encoding="utf-8")


def test_the_real_cmb_clin_file_matches_its_pin_and_reads_208_questions_from_74_cases():
    from medbench.data import sources
    from tests.conftest import SHARED_DATA

    copy = SHARED_DATA / "cmb" / "CME-test-qa" / "CMB-test-qa.json"
    if not copy.is_file():
        pytest.skip(
            f"CMB-Clin not found at {copy} (`medbench data pull --tasks cmb_clin --to DIR` puts it there)"
        )
    (pin,) = [s for s in sources.declared() if s.local == "cmb/CME-test-qa/CMB-test-qa.json"]
    assert sources.mismatch(pin, copy) is None
    data = load_task_data("cmb_clin", SHARED_DATA)
    assert len(data["test"]) == 208 and not data.report.skipped
    assert len({r["fields"]["case"] for r in data["test"]}) == 74


def test_circular_rotates_every_cmb_question_multiple_answers_with_their_options():
    (test,) = load_task_data(
        "cmb_exam_physician_intermediate_gen", FIXTURE, circular_splits=["test"], circular_limit=None
    ).values()
    assert len(test) == 2 * 5  # two questions, five rotations each
    multi = [r for r in test if r["circular_of"] == "7"]  # answer ACD
    assert [r["answer"] for r in multi] == ["ACD", "BCE", "ABD", "ACE", "BDE"]


def test_a_loglik_run_on_the_tiny_model_scores_single_answers_and_counts_the_multiple_ones_left_out(
    tiny_model, tmp_path
):
    from medbench.run.runner import RunConfig, run

    config = RunConfig(
        model=tiny_model,
        tasks=["cmb_exam_nursing_senior_nurse"],  # ids 13 (D) and 14 (EB, multiple answers)
        data_dir=str(FIXTURE),
        output=str(tmp_path / "runs"),
    )
    folder, scores = run(config)
    (acc,) = [s for s in scores if s.metric == "acc"]
    assert acc.n == 1
    data = json.loads((folder.path / "data.json").read_text(encoding="utf-8"))
    assert data["excluded_items"] == {"cmb/护师执业资格:test": 1}  # the multiple-answer one, counted
    assert len(data["files_sha256"]) == 3  # questions, answers and hierarchy: what the run rests on


@pytest.mark.parametrize(
    ("reply", "rating"),
    [
        ("{ ‘ fluency ’: 3 }", "3"),
        ('{"fluency": "4"}', "4"),
        ("流畅性：5。", "5"),
        ("{ 'fluency': 3.5 }", None),  # on no scale of CMB's: unreadable, never 3
        ("评分：2/10", None),
        ("{'fluency': 12}", None),
        ("fluency: 3, relevance: 4", None),  # two different ratings
        ("流畅性：3/5", "3"),  # the same scale, written out
        ("score: 3.0", "3"),
        ("评分：4.0分", "4"),
        ("评分：2 / 10", None),
        ("评分：2／10", None),
        ("评分：3-4", None),  # a range
    ],
)
def test_cmb_clin_judge_reads_a_rating_on_cmbs_scale_only(reply, rating):
    import re

    import yaml

    from medbench.judge.rubric import score_of

    rubric = yaml.safe_load((plugin_dir("judges") / "cmb_clin.yaml").read_text(encoding="utf-8"))
    assert score_of(re.compile(rubric["score_pattern"]), reply) == rating
