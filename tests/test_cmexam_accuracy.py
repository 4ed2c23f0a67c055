"""The cmexam-official accuracy (issue 24, case 11): CMExam's scripts read the answer between 答案：
and the line's last ，, compare it with the gold string exactly, and leave replies without one out of
the denominator; medbench's own cmexam acc stays the default beside it."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from medbench.core.paths import SAMPLES_DIR
from medbench.run.runner import RunConfig, run
from medbench.scoring.cmexam_accuracy import predicted
from tests.servers import ScriptedChat

#: a phrase of each bundled CMExam sample question -> the scripted reply to it
REPLIES = {
    "甘味": "答案：A，解释：甘能补能和能缓。",  # right
    "冠心病心绞痛": "答案：B\n解释：硝酸甘油。",  # right to medbench; no ， on the answer line: left out
    "苯二氮": "答案：C，解释：……",  # wrong
    "2型糖尿病": "答案：CBA，解释：三项都对。",  # the right letters in another order: wrong here
    "磺胺": "答案：NA，解释：不确定。",  # pandas reads NA as missing: left out
    "慢性肾脏病": "<think>低蛋白</think>答案：A，解释：优质低蛋白。",  # thinking removed first: right
    "急性心肌梗死": "答案：ABC，解释：都是。",  # right
}


def _reply(prompt: str) -> str:
    return next(reply for phrase, reply in REPLIES.items() if phrase in prompt)


def _official_rule(replies: list[str], gold: list[str]) -> float:
    """The scripts' steps as data flow: regex, a CSV round trip through pandas, exact compare."""
    import re

    answers = []
    for reply in replies:
        answer = reply.split("</think>")[-1]
        try:  # both fields in one try, as the scripts read them
            found = re.findall(r"答案：(.*)，", answer)[0]
            re.findall(r"解释：(.*)", answer)[0]
        except IndexError:
            found = ""
        answers.append(found)
    table = pd.read_csv(io.StringIO(pd.DataFrame({"a": answers, "g": gold}).to_csv(index=False)))
    kept = table[~table["a"].isna()]
    return float((kept["a"] == kept["g"]).sum() / len(kept))


def _run(tmp_path, tasks: list[str]):
    with ScriptedChat([], reply=_reply).serving() as url:
        options = {"base_url": url, "model_name": "s"}
        config = RunConfig(model="s", tasks=tasks, backend="openai", backend_options=options)
        config.data_dir, config.output = str(SAMPLES_DIR), str(tmp_path)
        return run(config)


def test_cmexam_official_accuracy_equals_the_scripts_rule_and_the_default_stays(tmp_path):
    folder, scores = _run(tmp_path, ["cmexam", "cmexam_official"])
    by = {(s.task, s.metric): s for s in scores}
    gold = ["A", "B", "B", "ABC", "A", "A", "ABC"]
    official = _official_rule(list(REPLIES.values()), gold)
    assert official == pytest.approx(3 / 5)  # A, A (after thinking), ABC right of 5 answered
    assert by[("cmexam_official", "acc_cmexam")].value == pytest.approx(official)
    assert by[("cmexam_official", "answered_rate")].value == pytest.approx(5 / 7)
    assert (by[("cmexam_official", "acc_cmexam")].n, by[("cmexam_official", "answered_rate")].n) == (5, 7)
    assert "left out of the denominator" in by[("cmexam_official", "acc_cmexam")].convention
    assert by[("cmexam", "acc")].value == pytest.approx(5 / 7)  # medbench's rule: sets, two-line form
    from medbench.analysis.explain import explain

    table = explain([str(folder.path)], "cmexam")
    assert {"cmexam", "cmexam_official"} <= set(table["task"])


@pytest.mark.parametrize(
    ("reply", "answer"),
    [
        ("答案：A，解释：x", "A"),
        ("答案：A，B，解释：x", "A，B"),  # up to the line's last ，
        ("答案：A\n解释：x，y", None),
        ("答案：None，", None),
        ("<think>答案：B，</think>没有答案", None),
        ("<think>想到一半", None),
        ("答案：A，", None),  # issue 36: no 解释：, so the script's one try fails for both fields
        ("答案：A，选它。", None),
        ("答案：A，解释：", "A"),  # an empty explanation is still found
    ],
)
def test_the_answer_the_script_reads(reply, answer):
    assert predicted(reply) == answer


def test_the_samples_record_the_raw_reply(tmp_path):
    folder, _ = _run(tmp_path, ["cmexam_official"])
    records = [
        json.loads(x) for x in (folder.path / "samples" / "cmexam_official.jsonl").read_text().splitlines()
    ]
    assert [r["raw"] for r in records] == list(REPLIES.values())
