"""Issue 36/37: the seam matrix. Every task kind (multiple choice by generation, a group of subjects,
multi-answer CMExam, open generation, dialogue) x circular on/off x a failed item, run against a real
loopback server, and every number checked against the invariants that no feature may break:

- n counts units (questions), never rotations: no score rests on more units than its records hold;
- every interval lies in the metric's range, holds its value and has width (none is "none": an
  interval is absent only with a stated reason);
- a circular run's acc, acc_origin and circular_acc rest on the same questions, and its letter
  histogram names only option letters (or "?" for a reply that named none);
- a leaf's acc is the mean over its whole units of their share of right records (traceable).
"""

from __future__ import annotations

import json

import pytest

from medbench.analysis.compare import groups
from medbench.core import units
from medbench.core.paths import SAMPLES_DIR
from medbench.run.runner import RunConfig, run
from tests.servers import ScriptedChat

#: (task kind, task, circular possible)
KINDS = [
    ("mc gen", "medqa_mcmle", True),
    ("mc group", "ceval_med", True),
    ("mc multi-answer", "cmexam", True),
    ("generation", "huatuo26m", False),
    ("dialogue", "cmtmedqa", False),
]
FAIL = "转移性右下腹痛"  # in one medqa_mcmle question: its request fails (a 500 after no retry)
CASES = [
    (kind, task, circular, failed)
    for kind, task, can_rotate in KINDS
    for circular in ((False, True) if can_rotate else (False,))
    for failed in ((False, True) if task == "medqa_mcmle" else (False,))
]


def _records(folder) -> dict[str, list[dict]]:
    out = {}
    for path in sorted((folder.path / "samples").glob("*.jsonl")):
        out[path.stem] = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    return out


@pytest.mark.parametrize(("kind", "task", "circular", "failed"), CASES, ids=lambda v: str(v))
def test_every_number_keeps_the_invariants(kind, task, circular, failed, tmp_path):
    rules = [(FAIL, "500")] if failed else []
    with ScriptedChat(rules, reply="答案：A，\n解释：因为A。").serving() as url:
        options = {"model_name": "scripted", "base_url": url, "max_retries": 0, "timeout": 5.0}
        config = RunConfig(
            model="scripted",
            tasks=[task],
            backend="openai",
            data_dir=str(SAMPLES_DIR),
            output=str(tmp_path),
            backend_options=options,
            circular=circular,
            limit=4,
        )
        folder, _ = run(config)
    records = _records(folder)
    scores = json.loads((folder.path / "metrics.json").read_text(encoding="utf-8"))
    whole = {t: [g for g in units.by_unit(r).values() if units.complete(g)] for t, r in records.items()}
    every_unit = {t: len(units.by_unit(r)) for t, r in records.items()}
    top = groups(folder.path)  # leaf -> its group
    for s in scores:
        leaves = [t for t in records if t == s["task"] or top.get(t) == s["task"]]
        assert s["n"] <= sum(every_unit.get(t, 0) for t in leaves), s  # units, never rotations
        if s["value"] is None:
            continue
        assert 0 <= s["value"] <= 1, s
        if s["ci_low"] is None:
            assert s["ci_method"] and s["ci_method"].startswith("none"), s  # absent only with a reason
        else:
            assert 0 <= s["ci_low"] <= s["value"] <= s["ci_high"] <= 1 and s["ci_low"] < s["ci_high"], s
        if s["metric"] == "acc" and s["task"] in whole and s["convention"] == "":
            shares = [sum(bool(r["correct"]) for r in g) / len(g) for g in whole[s["task"]]]
            assert s["value"] == pytest.approx(sum(shares) / len(shares)) and s["n"] == len(shares), s
    if circular:
        by = {(s["task"], s["metric"]): s for s in scores if s["convention"] in ("", "circular")}
        for leaf in records:
            ns = {by[(leaf, m)]["n"] for m in ("acc", "acc_origin", "circular_acc")}
            assert ns == {len(whole[leaf])}, (leaf, ns)
        for entry in json.loads((folder.path / "circular.json").read_text(encoding="utf-8")):
            assert set(entry["chosen"]) <= set("ABCDE?"), entry["chosen"]
    if failed:
        assert [s["n_failed"] for s in scores if s["task"] in records and s["metric"] == "acc"] == [1]
