"""Issues 36/37: the seam matrix, generated from the task registry. Every task kind medbench has (a kind
is what lm-eval runs -- output type, data hook, scoring hook -- so a new benchmark of a new kind joins
by existing) x circular on/off (where its items can rotate) x a failed item x a resumed run, each run
end to end (a loopback server for generating kinds, the tiny model for log-likelihood) and every number
checked against the invariants no feature may break:

- n counts units (questions), never rotations: no score rests on more units than its records hold;
- every interval lies in the metric's range, holds its value and has width (none is "none": an
  interval is absent only with a stated reason);
- a circular run's acc, acc_origin and circular_acc rest on the same questions, and its letter
  histogram names only option letters (or "?" for a reply that named none);
- a leaf's acc is the mean over its whole units of their share of right records (traceable);
- a failed item's unit is left out of every score of its task and counted as failed; the resumed run
  asks only what failed and then scores every unit;
- every registered analysis (the matrix's other axis: a new one joins by being registered) that
  applies to the run, run again over the folder, finds its files there and its scores in metrics.json
  with the same value and n;
- the report's stage comparison of the run's task between two training stages is the same whether or
  not the later stage was also evaluated, later, on another task alone (a suite's one-task run).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from medbench.analysis.compare import groups
from medbench.analysis.plugin import Context, registered
from medbench.config.record import RunRecord
from medbench.core import units
from medbench.core.errors import MedbenchError
from medbench.core.paths import SAMPLES_DIR
from medbench.data.catalog import _split_names, load_task_data, task_config
from medbench.report.folders import collect
from medbench.report.stage_changes import recipe_changes
from medbench.run.planning import task_manager
from medbench.run.runner import RunConfig, run
from tests.conftest import SHARED_DATA
from tests.servers import ScriptedChat

LOGLIK = "multiple_choice"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: the fields of a normalised item that its prompt shows (the data hooks' item shapes)
PROMPT_FIELDS = ("question", "options", "history", "text")


def _name(fn) -> str:
    module = getattr(fn, "__module__", "") or ""
    module = module if module.startswith("medbench.") else "task utils"
    return f"{module}.{getattr(fn, '__name__', '')}".removeprefix("medbench.")


def task_kinds() -> dict[str, list[str]]:
    """Every leaf task, grouped by its kind: (output type, data hook, scoring hook) from its YAML."""
    manager = task_manager()
    kinds: dict[str, list[str]] = {}
    for name in sorted(manager.all_subtasks):
        cfg = task_config(manager, name, resolve=True)
        hooks = (_name(cfg.get("custom_dataset")), _name(cfg.get("process_results")))
        kind = " | ".join((str(cfg.get("output_type")), *hooks))
        kinds.setdefault(kind, []).append(name)
    return kinds


def _rotatable(cfg: dict) -> bool:
    """What ``--circular`` accepts: an MC data hook and a per-item acc."""
    metrics = {m.get("metric") for m in cfg.get("metric_list") or []}
    return hasattr(cfg.get("custom_dataset"), "layout") and "acc" in metrics


KINDS = task_kinds()
CASES = [(kind, circular) for kind in KINDS for circular in (False, True)]


def _with_data(tasks: list[str]) -> tuple[str, str, dict] | None:
    """The first task of a kind whose items are here (bundled samples, else the real data beside the
    project, else the tests' own fixtures in a benchmark's layout -- CMB's, which is neither bundled
    nor in the shared data): (task, data dir, its evaluated items)."""
    manager = task_manager()
    for data_dir in (SAMPLES_DIR, SHARED_DATA, FIXTURES):
        if not Path(data_dir).is_dir():
            continue
        for task in tasks:
            try:
                data = load_task_data(manager, task, {"data_dir": str(data_dir)})
            except MedbenchError:
                continue
            evaluated, _ = _split_names(task_config(manager, task))
            if data is not None and len(data[evaluated]):
                return task, str(data_dir), data[evaluated]
    return None


def _texts(item: dict) -> list[str]:
    """The item's pieces of text, never across a turn, a field or a template's colon."""
    raw = json.dumps(item, ensure_ascii=False)
    return [p for p in re.split(r'[\s：:"\\,\[\]{}]+', raw) if p]


def _needle(items) -> str:
    """A piece of one item's text that no other item of the split holds: it is in that item's prompt
    (every rotation's too) and in no other. The first item that has one (a consultation's earlier
    questions are in its later questions' prompts, so there it is a case's last)."""
    items = list(items)
    for n, item in enumerate(items):
        others = " ".join(" ".join(_texts(other)) for k, other in enumerate(items) if k != n)
        asked = {k: v for k, v in item.items() if k in PROMPT_FIELDS}  # not the reference or explanation
        unique = [p for p in _texts(asked) if len(p) >= 6 and p[:8] not in others]
        if unique:
            return max(unique, key=len)[:8]
    raise AssertionError("no item holds text of its own")


def _records(folder) -> dict[str, list[dict]]:
    out = {}
    for path in sorted((folder.path / "samples").glob("*.jsonl")):
        out[path.stem] = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    return out


def check_invariants(folder, circular: bool) -> list[dict]:
    """Every number of the run folder against the invariants; returns its scores."""
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
        if s["ci_low"] is None:
            assert s["ci_method"] and s["ci_method"].startswith("none"), s  # absent only with a reason
        else:
            assert s["ci_low"] <= s["value"] <= s["ci_high"] and s["ci_low"] < s["ci_high"], s
            if 0 <= s["value"] <= 1 and s["metric"] != "mean_margin":
                assert s["ci_low"] >= 0 and s["ci_high"] <= 1, s
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
    return scores


def check_analyses(folder) -> list[str]:
    """Every registered analysis that applies to the run, run again over its folder: its files are
    there and each of its scores is in metrics.json with the same value and n. Returns their names."""
    record = RunRecord.open(folder.path)
    context = Context(record.settings(), record.all_samples(), folder.path, record.fragile_margin() or 0.0)
    written = json.loads((folder.path / "metrics.json").read_text(encoding="utf-8"))
    scores = {(s["task"], s["metric"], s["convention"]): s for s in written}
    ran = []
    for analysis in registered():
        if not analysis.applies(context):
            continue
        found = analysis.run(context)
        for name in found.files:
            assert (folder.path / name).is_file(), (analysis.name, name)
        for score in found.scores:
            kept = scores[(score.task, score.metric, score.convention)]
            assert kept["n"] == score.n, (analysis.name, kept, score)
            assert kept["value"] == pytest.approx(score.value, nan_ok=True), (analysis.name, kept, score)
        ran.append(analysis.name)
    return ran


def check_stage_choice(folder, root: Path) -> list[str]:
    """The run as two stages of a recipe (sft, then dpo), compared as the report compares them, then
    again after a later dpo run that holds another task only: the comparison must not change (it went
    through the newest folder of a stage alone, and said "not compared")."""
    models, runs = root / "models", root / "runs"

    def stage(name: str, base: str, stamp: str) -> Path:
        copy = runs / f"{stamp}-{name}"
        shutil.copytree(folder.path, copy)
        for file, key in (("config.json", "model"), ("model.json", "path")):  # the stage's own model
            record = json.loads((copy / file).read_text(encoding="utf-8"))
            (copy / file).write_text(json.dumps({**record, key: str(models / name)}), encoding="utf-8")
        card = {"recipe": "seam", "stage": name, "base_model": str(models / base)}
        (copy / "model_card.json").write_text(json.dumps(card), encoding="utf-8")
        return copy

    stage("sft", "base", "20260101-000000")
    stage("dpo", "sft", "20260101-000100")
    before = recipe_changes(collect([str(runs)])[0])
    later = stage("dpo", "sft", "20260101-000200")
    for path in (later / "samples").glob("*.jsonl"):  # a suite's one-task run of another task
        path.rename(path.with_name(f"zz_{path.name}"))
    after = recipe_changes(collect([str(runs)])[0])
    assert before["seam"][0].startswith("sft -> dpo: "), before
    assert after == before, (before, after)
    return before["seam"]


def _failed_lines(folder) -> int:
    path = folder.path / "failures.jsonl"
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0


@pytest.mark.parametrize(("kind", "circular"), CASES, ids=lambda v: str(v))
def test_every_number_keeps_the_invariants(kind, circular, tiny_model, tmp_path):
    found = _with_data(KINDS[kind])
    if found is None:
        pytest.skip(f"no task of kind {kind} has data here ({', '.join(KINDS[kind][:3])}...)")
    task, data_dir, items = found
    cfg = task_config(task_manager(), task, resolve=True)
    if circular and not _rotatable(cfg):
        pytest.skip(f"{task}'s items do not rotate (--circular refuses it in one line)")
    common = dict(tasks=[task], data_dir=data_dir, output=str(tmp_path), circular=circular, limit=4)
    if cfg.get("output_type") == LOGLIK:  # the tiny model: nothing fails, nothing to resume
        folder, _ = run(RunConfig(model=tiny_model, **common))
        check_invariants(folder, circular)
        assert ("circular" in check_analyses(folder)) == circular
        check_stage_choice(folder, tmp_path / "stages")
        return
    script = ScriptedChat([(_needle(items), "500")], reply="答案：A，\n解释：因为A。")
    with script.serving() as url:
        options = {"model_name": "scripted", "base_url": url, "max_retries": 0, "timeout": 5.0}
        config = RunConfig(model="scripted", backend="openai", backend_options=options, **common)
        folder, _ = run(config)
        failed = _failed_lines(folder)
        assert failed, f"the needle {_needle(items)!r} failed no request of {task}"
        scores = check_invariants(folder, circular)
        leaf = [s for s in scores if s["task"] in _records(folder) and s["value"] is not None]
        assert leaf and all(s["n_failed"] == 1 for s in leaf), [(s["metric"], s["n_failed"]) for s in leaf]
        asked = script.total
        script.healed = True  # the resumed run: the same command, the server healthy again
        resumed, _ = run(RunConfig(model="scripted", backend="openai", backend_options=options, **common))
        assert script.total - asked == failed  # only what failed is asked again
    assert _failed_lines(resumed) == 0
    assert ("circular" in check_analyses(resumed)) == circular
    check_stage_choice(resumed, tmp_path / "stages")
    scores = check_invariants(resumed, circular)
    assert all(not s.get("n_failed") for s in scores), [s for s in scores if s.get("n_failed")]
