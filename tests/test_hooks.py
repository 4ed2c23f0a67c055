"""Issue 37: the run's context reaches lm-eval's task hooks explicitly. A run builds its tasks once and
binds its thinking tags and LLM extractor to every hook that declares a ``context`` parameter; nothing
process-wide changes, so a task built elsewhere (plain lm-eval) keeps the hooks' defaults."""

from __future__ import annotations

from medbench.core._compat import filter_pipelines
from medbench.core.hooks import PLAIN, Bound, HookContext
from medbench.core.paths import SAMPLES_DIR
from medbench.run.planning import task_manager
from medbench.run.tasks import build

REPLY = "<r>想一想：答案：B\n解释：不对</r>答案：A\n解释：因为A。"


def _built(context: HookContext):
    return build(task_manager({"data_dir": str(SAMPLES_DIR)}), ["cmexam_explain", "medqa_mcmle_gen"], context)


def test_a_built_task_hands_the_run_context_to_every_hook_that_declares_it():
    context = HookContext(("<r>", "</r>"), None)
    built = _built(context)
    explain = built.leaves["cmexam_explain"].config.process_results
    assert isinstance(explain, Bound) and explain.context is context
    # the explanation after the run's closing tag is scored, not the one inside the thinking
    assert explain({"explanation": "因为A。"}, [REPLY])["rougeL"] == ("因为A。", "因为A。")
    steps = [s for e in filter_pipelines(built.leaves["medqa_mcmle_gen"]) for s in e.filters]
    bound = [s.keywords["filter_fn"] for s in steps if isinstance(s.keywords.get("filter_fn"), Bound)]
    assert len(bound) == 1 and bound[0].context is context
    doc = {"options": [["A", "甲"], ["B", "乙"]]}
    assert bound[0]([[REPLY]], [doc]) == [["A"]]


def test_a_task_built_without_a_run_keeps_the_hooks_defaults():
    built = _built(HookContext(("<r>", "</r>"), None))
    other = task_manager({"data_dir": str(SAMPLES_DIR)}).load("cmexam_explain")["tasks"]["cmexam_explain"]
    assert not isinstance(other.config.process_results, Bound)  # nothing process-wide was changed
    assert isinstance(built.leaves["cmexam_explain"].config.process_results, Bound)
    # default tags: <r> is not thinking, so the first explanation marker in the reply is read
    scored = other.config.process_results({"explanation": "因为A。"}, [REPLY])
    assert scored["rougeL"][1].startswith("不对")
    assert PLAIN.tags == ("<think>", "</think>") and PLAIN.extractor is None
